// The EFS file-system policy and the CRM owner (infra/efs-policy.ts): backup read-only, worker writes, TLS only, no root, only through the CRM's access point; uid/gid checked at deploy.
import { describe, expect, it } from "vitest";
import { readInfraConfig } from "../infra/config.ts";
import { efsPolicy } from "../infra/efs-policy.ts";

const T = {
  fileSystemArn: "arn:aws:elasticfilesystem:eu-central-1:123456789012:file-system/fs-0123",
  accessPointArn: "arn:aws:elasticfilesystem:eu-central-1:123456789012:access-point/fsap-0abc",
  backupRoleArn: "arn:aws:iam::123456789012:role/ScheduledBackupRole",
  workerRoleArn: "arn:aws:iam::123456789012:role/WorkerRole",
};

type Stmt = { Effect: string; Principal: { AWS: string | string[] }; Action: string | string[]; Condition?: Record<string, Record<string, string>> };

/** IAM's verdict for one principal and action under this policy alone (explicit deny wins, then any allow). */
function decide(policy: { Statement: Stmt[] }, who: string, action: string, ctx: { tls: boolean; accessPoint?: string }): "allow" | "deny" | "implicit-deny" {
  const applies = (s: Stmt) => {
    const principals = ([] as string[]).concat(s.Principal.AWS);
    const actions = ([] as string[]).concat(s.Action);
    if (!principals.includes("*") && !principals.includes(who)) return false;
    if (!actions.includes("*") && !actions.includes(action)) return false;
    const c = s.Condition ?? {};
    if (c.Bool?.["aws:SecureTransport"] !== undefined && String(ctx.tls) !== c.Bool["aws:SecureTransport"]) return false;
    if (c.StringNotEquals?.["elasticfilesystem:AccessPointArn"] !== undefined && ctx.accessPoint === c.StringNotEquals["elasticfilesystem:AccessPointArn"]) return false;
    return true; // AccessedViaMountTarget: every NFS client here comes through a mount target
  };
  const hits = policy.Statement.filter(applies);
  if (hits.some((s) => s.Effect === "Deny")) return "deny";
  return hits.some((s) => s.Effect === "Allow") ? "allow" : "implicit-deny";
}

describe("EFS file-system policy", () => {
  const policy = efsPolicy(T) as unknown as { Statement: Stmt[] };
  const viaAp = { tls: true, accessPoint: T.accessPointArn };

  it("lets the backup function mount read-only and the worker write, both only through the CRM's access point over TLS", () => {
    expect(decide(policy, T.backupRoleArn, "elasticfilesystem:ClientMount", viaAp)).toBe("allow");
    expect(decide(policy, T.backupRoleArn, "elasticfilesystem:ClientWrite", viaAp)).toBe("deny");
    expect(decide(policy, T.workerRoleArn, "elasticfilesystem:ClientMount", viaAp)).toBe("allow");
    expect(decide(policy, T.workerRoleArn, "elasticfilesystem:ClientWrite", viaAp)).toBe("allow");
    for (const role of [T.backupRoleArn, T.workerRoleArn]) {
      expect(decide(policy, role, "elasticfilesystem:ClientMount", { tls: true })).toBe("deny"); // no access point: would be root-rooted
      expect(decide(policy, role, "elasticfilesystem:ClientMount", { tls: true, accessPoint: "arn:aws:elasticfilesystem:eu-central-1:123456789012:access-point/fsap-other" })).toBe("deny");
      expect(decide(policy, role, "elasticfilesystem:ClientMount", { ...viaAp, tls: false })).toBe("deny");
    }
  });

  it("denies root to everyone and plain NFS without TLS, while the CRM host keeps mounting and writing over TLS", () => {
    for (const who of [T.backupRoleArn, T.workerRoleArn, "arn:aws:iam::123456789012:role/CrmHost", "anonymous"]) {
      expect(decide(policy, who, "elasticfilesystem:ClientRootAccess", viaAp), who).not.toBe("allow");
    }
    expect(decide(policy, "anonymous", "elasticfilesystem:ClientWrite", { tls: true })).toBe("allow");
    expect(decide(policy, "anonymous", "elasticfilesystem:ClientMount", { tls: false })).toBe("deny");
  });
});

describe("the CRM owner the access point acts as", () => {
  it("comes from BACKUP_CRM_UID / BACKUP_CRM_GID, default 1000:1000", () => {
    expect(readInfraConfig({}).crm.owner).toEqual({ uid: 1000, gid: 1000 });
    expect(readInfraConfig({ BACKUP_CRM_UID: "1001", BACKUP_CRM_GID: "33" }).crm.owner).toEqual({ uid: 1001, gid: 33 });
  });

  it.each([["BACKUP_CRM_UID", "0"], ["BACKUP_CRM_GID", "0"], ["BACKUP_CRM_UID", "node"], ["BACKUP_CRM_GID", "-5"], ["BACKUP_CRM_UID", "1.5"], ["BACKUP_CRM_UID", "4294967295"]])("refuses %s=%s, naming the variable and how to find the right id", (name, value) => {
    expect(() => readInfraConfig({ [name]: value })).toThrow(new RegExp(`${name} must be the numeric .* id that owns the CRM's files.*got "${value.replace(".", "\\.")}".*stat -c`));
  });
});
