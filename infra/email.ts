// The SES identity notifications are sent from (BACKUP_SES_IDENTITY, else BACKUP_EMAIL_FROM's address).
import { config } from "./config.ts";

/**
 * An address identity is verified by clicking the link SES mails to it after the first deploy. A domain
 * identity needs DKIM records: created in Route 53 when BACKUP_SES_ROUTE53_ZONE names the hosted zone,
 * otherwise added by hand (the records are in the SES console). A new account is in the SES sandbox and
 * can only send to verified addresses until production access is granted.
 * Returns undefined when neither variable is set: the stage then deploys without mail.
 */
export function emailIdentity() {
  const identity = config.email.identity;
  if (!identity) return undefined;
  const isDomain = !identity.includes("@");
  return new sst.aws.Email("Mail", {
    sender: identity,
    ...(isDomain ? { dns: config.email.route53Zone ? sst.aws.dns({ zone: config.email.route53Zone }) : false } : {}),
  });
}
