// Network and CRM data: the VPC for the functions that mount EFS (no NAT), a free S3 gateway endpoint, the CRM's EFS and the access point with the CRM's uid/gid.
import { config } from "./config.ts";

export interface Network {
  /** What sst.aws.Function's `vpc` takes: a Vpc created here, or the CRM's subnets and security groups. */
  functionVpc: sst.aws.Vpc | { privateSubnets: string[]; securityGroups: string[] };
  /** The file system holding the CRM app folder, mounted at config.crm.mountPath. */
  efs: sst.aws.Efs;
  /** Its ARN, for the elasticfilesystem:Client* permissions. */
  efsArn: $util.Output<string>;
  /** The access point the functions mount: POSIX user BACKUP_CRM_UID:BACKUP_CRM_GID, root directory "/". */
  accessPointArn: $util.Output<string>;
  /** Its id, which an ECS task definition's EFS volume takes (infra/tasks.ts). */
  accessPointId: $util.Output<string>;
  /** What sst.aws.Cluster's `vpc` takes for the JobTask: the Vpc created here (public subnets, public IP), or the CRM's. */
  clusterVpc: sst.aws.Vpc | { id: string; securityGroups: string[]; containerSubnets: string[]; loadBalancerSubnets: string[] };
}

/**
 * Two shapes:
 * - Nothing configured: a new VPC (2 AZs) and a new EFS in it. The CRM host must then mount this EFS (infra/README.md).
 * - BACKUP_EFS_ID (+ BACKUP_VPC_ID, BACKUP_SUBNET_IDS, BACKUP_SECURITY_GROUP_IDS): the CRM's own EFS, reached
 *   from the CRM's VPC.
 * Either way only S3 is reachable from the functions in the VPC, through a gateway endpoint (free). There is
 * no NAT (sst.aws.Vpc has none unless `nat: "managed" | "ec2"` is given; there is no `nat: "none"`), so
 * EventBridge and SES calls are kept out of the VPC: see infra/functions.ts (Lambda destinations).
 */
export function network(bucket: sst.aws.Bucket): Network {
  const region = aws.getRegionOutput().region;
  const s3Service = $interpolate`com.amazonaws.${region}.s3`;

  const { vpcId, subnetIds, securityGroupIds, s3Endpoint } = config.network;
  if (vpcId && subnetIds && securityGroupIds) {
    if (s3Endpoint === "create") {
      const routeTableIds = $util
        .all(subnetIds.map((subnetId) => aws.ec2.getRouteTableOutput({ subnetId }).routeTableId))
        .apply((ids) => [...new Set(ids)]);
      // No endpoint policy here: in a shared VPC the endpoint carries every host's S3 traffic on those route tables,
      // and a policy naming only our bucket would cut the CRM off from any other bucket it uses.
      new aws.ec2.VpcEndpoint("S3Gateway", { vpcId, serviceName: s3Service, vpcEndpointType: "Gateway", routeTableIds });
    }
    if (config.efsId) {
      const efs = sst.aws.Efs.get("CrmFiles", config.efsId);
      // The CRM's own file system: never "its first access point" (which may be anyone's), but one of ours.
      const accessPoint = new aws.efs.AccessPoint("CrmAccessPoint", { fileSystemId: efs.id, ...crmAccessPoint() });
      return { functionVpc: { privateSubnets: subnetIds, securityGroups: securityGroupIds }, efs, efsArn: fileSystemArn(efs), accessPointArn: accessPoint.arn, accessPointId: accessPoint.id, clusterVpc: crmClusterVpc(vpcId, subnetIds, securityGroupIds) };
    }
    const efs = newEfs({ vpc: { id: vpcId, subnets: subnetIds } });
    return { functionVpc: { privateSubnets: subnetIds, securityGroups: securityGroupIds }, efs, efsArn: fileSystemArn(efs), accessPointArn: efs.nodes.accessPoint.arn, accessPointId: efs.accessPoint, clusterVpc: crmClusterVpc(vpcId, subnetIds, securityGroupIds) };
  }

  // No `nat`: private subnets without internet access (see above).
  const vpc = new sst.aws.Vpc("Network", { az: 2 });
  new aws.ec2.VpcEndpoint("S3Gateway", {
    vpcId: vpc.id,
    serviceName: s3Service,
    vpcEndpointType: "Gateway",
    routeTableIds: vpc.nodes.privateRouteTables.apply((tables) => tables.map((t) => t.id)),
    // This VPC exists only for the backup functions: the endpoint reaches our bucket and nothing else.
    policy: $jsonStringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:*", Resource: [bucket.arn, $interpolate`${bucket.arn}/*`] }],
    }),
  });
  const efs = newEfs({ vpc });
  // The JobTask runs in this VPC's public subnets with a public IP (sst.aws.Task's default for an SST Vpc): it pulls its
  // image and ships its logs without a NAT, and reaches the EFS mount targets inside the VPC.
  return { functionVpc: vpc, efs, efsArn: fileSystemArn(efs), accessPointArn: efs.nodes.accessPoint.arn, accessPointId: efs.accessPoint, clusterVpc: vpc };
}

/**
 * The CRM's VPC for the JobTask: BACKUP_TASK_SUBNET_IDS (default BACKUP_SUBNET_IDS). Those subnets must reach ECR and
 * CloudWatch Logs (a NAT, or interface endpoints) to start the task, and EventBridge for its result (infra/README.md).
 */
const crmClusterVpc = (id: string, subnetIds: string[], securityGroups: string[]) => ({ id, securityGroups, containerSubnets: config.network.taskSubnetIds ?? subnetIds, loadBalancerSubnets: [] as string[] });

/** The access point's user and root: the CRM's uid/gid, so every file the functions create or restore is the CRM's. */
const crmAccessPoint = () => ({ posixUser: { uid: config.crm.owner.uid, gid: config.crm.owner.gid }, rootDirectory: { path: "/" } });

/** A new EFS whose only access point (SST's, root uid 0 by default) acts as the CRM's user instead. */
function newEfs(args: sst.aws.EfsArgs): sst.aws.Efs {
  return new sst.aws.Efs("CrmFiles", {
    ...args,
    // Bursting, not SST's default Elastic: Elastic bills every byte read ($0.03/GB), and a daily backup reads the whole
    // database; Bursting bills none and bursts to 100 MiB/s on credits a 5 GB CRM earns many times over (README
    // "Deploying to AWS": the limits model assumes that rate, the cost statement assumes no per-GB reads).
    throughput: "bursting",
    transform: {
      accessPoint: (ap) => {
        Object.assign(ap, crmAccessPoint());
      },
    },
  });
}

const fileSystemArn = (efs: sst.aws.Efs) => efs.nodes.fileSystem.apply((fs) => fs.arn);
