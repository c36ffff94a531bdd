// The S3 Storage: streamed multipart puts, conditional creates, ranges, presigned downloads and tags; the only core file that imports the S3 SDK.
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  paginateListObjectsV2,
  type PutObjectCommandInput,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { BackupError, ConfigError, ConflictError, NotFoundError, ObjectExistsError, ValidationError } from "../errors.ts";
import { clampRange, compareKeys, validateKey, validatePrefix } from "./fs-storage.ts";
import type { ObjectInfo, PutOptions, Storage } from "./storage.ts";

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket ("" or ending in "/"; a missing trailing "/" is added). */
  prefix?: string;
  region: string;
  /** A custom endpoint (LocalStack, MinIO...); unset on AWS. */
  endpoint?: string;
  /** Path-style URLs; default true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /**
   * SSE-KMS with this key (id, ARN or alias) on every put. Unset: no encryption header at all, so the bucket's
   * default encryption applies (SSE-S3, or the SSE-KMS key the bucket names); an explicit AES256 would override it.
   */
  kmsKeyId?: string;
  /** Send a SHA-256 checksum with every part so S3 verifies it on the way in (default true). */
  partChecksums?: boolean;
  /** A ready client (its endpoint/region settings win); when given, `close()` leaves it open. */
  client?: S3Client;
}

/** Multipart part size: memory use is bounded by PART_SIZE * (QUEUE_SIZE + 1). */
export const PART_SIZE = 8 * 1024 * 1024;
export const QUEUE_SIZE = 2;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export class S3Storage implements Storage {
  readonly description: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly sse: Pick<PutObjectCommandInput, "ServerSideEncryption" | "SSEKMSKeyId">;
  private readonly checksum: Pick<PutObjectCommandInput, "ChecksumAlgorithm">;
  /** Flips to false the first time the endpoint answers 501 to DeleteObject If-Match (LocalStack does). */
  private conditionalDelete = true;
  /** With part checksums on, a put given a SHA-256 sends it and S3 refuses the object if the bytes differ. */
  readonly validatesChecksums: boolean;

  constructor(options: S3StorageOptions) {
    if (!options.bucket) throw new ConfigError("create S3 storage: a bucket name is required");
    let prefix = options.prefix ?? "";
    if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
    validatePrefix(prefix);
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.description = `s3://${options.bucket}/${prefix}`;
    this.ownsClient = !options.client;
    this.client = options.client ?? createClient(options);
    this.sse = options.kmsKeyId ? { ServerSideEncryption: "aws:kms", SSEKMSKeyId: options.kmsKeyId } : {};
    this.checksum = options.partChecksums === false ? {} : { ChecksumAlgorithm: "SHA256" };
    this.validatesChecksums = options.partChecksums !== false;
  }

  async put(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<ObjectInfo> {
    const Key = this.s3Key(key);
    if (opts.sha256 && Buffer.isBuffer(body) && this.validatesChecksums) return this.putChecked(key, body, opts.sha256, opts);
    if (typeof body === "string" || (Buffer.isBuffer(body) && body.length < PART_SIZE)) return this.putSmall(key, body, opts);
    let size = typeof body === "string" ? Buffer.byteLength(body) : Buffer.isBuffer(body) ? body.length : 0;
    const counted = body instanceof Readable ? Readable.from(countBytes(body, (n) => (size += n))) : body;
    // Upload sends one PutObject below PART_SIZE and a multipart upload above it; on any error it aborts the
    // multipart upload, so nothing (and no billable incomplete upload) is left. Objects appear only when complete.
    const upload = new Upload({
      client: this.client,
      // IfNoneMatch reaches the PutObject, or the CompleteMultipartUpload of a multipart upload (lib-storage passes params on).
      params: { Bucket: this.bucket, Key, Body: counted, ...this.sse, ...this.checksum, ...conditions(opts) },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    let etag: string | undefined;
    try {
      etag = (await upload.done()).ETag;
    } catch (err) {
      if (body instanceof Readable && !body.destroyed) body.destroy();
      this.putConflict(key, opts, err);
      throw this.mapError(err, key, "store");
    }
    if (!etag) throw new Error(`store "${key}" in ${this.description}: the endpoint returned no ETag`);
    // The server's size and time for exactly the version we wrote; if it was replaced meanwhile, use what we know.
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key, IfMatch: etag }));
      return { key, size: head.ContentLength ?? size, modified: head.LastModified ?? new Date(), version: etag };
    } catch (err) {
      if (!isStatus(err, 404, 412)) throw this.mapError(err, key, "stat");
      return { key, size, modified: new Date(), version: etag };
    }
  }

  /**
   * A body already in memory (manifests, the catalog index, audit and lock records): one PutObject, whose answer
   * carries the ETag, and we know the size. Skipping Upload's HEAD halves the requests of every small write, which
   * is most of what a backup with nothing changed sends (test/v2-s3-requests.test.ts).
   */
  private async putSmall(key: string, body: Buffer | string, opts: PutOptions): Promise<ObjectInfo> {
    const Key = this.s3Key(key);
    try {
      const out = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ...this.sse, ...this.checksum, ...conditions(opts) }));
      if (!out.ETag) throw new Error(`store "${key}" in ${this.description}: the endpoint returned no ETag`);
      return { key, size: typeof body === "string" ? Buffer.byteLength(body) : body.length, modified: new Date(), version: out.ETag };
    } catch (err) {
      this.putConflict(key, opts, err);
      throw this.mapError(err, key, "store");
    }
  }

  /** Throws the put's refused condition as ours: ObjectExistsError for ifAbsent, ConflictError for ifVersion. */
  private putConflict(key: string, opts: PutOptions, err: unknown): void {
    if (opts.ifAbsent && isExists(err)) throw this.exists(key, err);
    if (opts.ifVersion !== undefined && (isExists(err) || isStatus(err, 404))) {
      throw new ConflictError(`replace "${key}" in ${this.description}: it changed or went since it was read; nothing was replaced`);
    }
  }

  /** One PutObject carrying our own SHA-256: S3 hashes what arrived and rejects the put (BadDigest) if it differs. */
  private async putChecked(key: string, body: Buffer, sha256: string, opts: PutOptions): Promise<ObjectInfo> {
    const Key = this.s3Key(key);
    const ChecksumSHA256 = Buffer.from(sha256, "hex").toString("base64");
    try {
      const out = await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ChecksumSHA256, ...this.sse, ...this.checksum, ...conditions(opts) }),
      );
      if (out.ChecksumSHA256 && out.ChecksumSHA256 !== ChecksumSHA256) {
        throw new Error(`store "${key}" in ${this.description}: S3 recorded SHA-256 ${out.ChecksumSHA256}, we sent ${ChecksumSHA256}`);
      }
      return { key, size: body.length, modified: new Date(), version: out.ETag ?? "" };
    } catch (err) {
      this.putConflict(key, opts, err);
      throw this.mapError(err, key, "store");
    }
  }

  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    const Key = this.s3Key(key);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, IfNoneMatch: "*", ...this.sse, ...this.checksum }),
      );
      return true;
    } catch (err) {
      // 412: the key exists. 409 ConditionalRequestConflict: a concurrent conditional write to it is in flight.
      if (isStatus(err, 412) || errName(err) === "ConditionalRequestConflict") return false;
      throw this.mapError(err, key, "create");
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const Key = this.s3Key(key);
    // Shape checks (whole numbers, start <= end) happen here: S3 would silently ignore a reversed range.
    const end = range && clampRange(key, range, Number.MAX_SAFE_INTEGER);
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key, Range: range && `bytes=${range.start}-${end}` }),
      );
      if (!(out.Body instanceof Readable)) throw new Error(`read "${key}": the S3 client did not return a Node stream`);
      return out.Body;
    } catch (err) {
      if (range && (isStatus(err, 416) || errName(err) === "InvalidRange"))
        throw new ValidationError(`invalid byte range for "${key}": start ${range.start} is past the end of the object`, {
          cause: err,
        });
      throw this.mapError(err, key, "read");
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    const Key = this.s3Key(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      throw this.mapError(err, key, "read");
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const Key = this.s3Key(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { key, size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0), version: head.ETag ?? "" };
    } catch (err) {
      if (isStatus(err, 404) && errName(err) !== "NoSuchBucket") return null;
      throw this.mapError(err, key, "stat");
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    validatePrefix(prefix);
    const out: ObjectInfo[] = [];
    try {
      const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: this.prefix + prefix });
      for await (const page of pages) {
        for (const o of page.Contents ?? []) {
          const key = o.Key?.slice(this.prefix.length);
          // Skips the reserved temp/ segment and names no valid key could have (written by other tools).
          if (key === undefined || !isValidKey(key)) continue;
          out.push({ key, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0), version: o.ETag ?? "" });
        }
      }
    } catch (err) {
      throw this.mapError(err, prefix, "list");
    }
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string, opts?: { ifVersion?: string }): Promise<boolean> {
    const Key = this.s3Key(key);
    const ifVersion = opts?.ifVersion;
    try {
      if (ifVersion === undefined) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
        return true;
      }
      if (this.conditionalDelete) {
        try {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key, IfMatch: ifVersion }));
          return true;
        } catch (err) {
          if (isStatus(err, 412) || (isStatus(err, 404) && errName(err) !== "NoSuchBucket")) return false;
          if (!isStatus(err, 501)) throw err;
          this.conditionalDelete = false;
        }
      }
      // Fallback for endpoints without If-Match on DeleteObject: another writer may replace the object between
      // this HEAD and the DELETE (the same narrow race as the fs store).
      const current = await this.stat(key);
      if (!current || current.version !== ifVersion) return false;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (err) {
      throw this.mapError(err, key, "delete");
    }
  }

  async usage(prefix = ""): Promise<number> {
    return (await this.list(prefix)).reduce((sum, o) => sum + o.size, 0);
  }

  /**
   * A URL that downloads the object with a plain GET until it expires; signing is offline, so absence shows as 404 then.
   * With `filename`, S3 answers it as an attachment of that name, so a browser that navigates to it saves the file
   * instead of leaving the page (the `download` attribute is ignored across origins).
   */
  async presignGet(key: string, expiresInSeconds = 300, opts: { filename?: string } = {}): Promise<string> {
    const Key = this.s3Key(key);
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS)
      throw new ValidationError(`presign "${key}": expiry must be 1..${MAX_PRESIGN_SECONDS} whole seconds, got ${expiresInSeconds}`);
    if (opts.filename !== undefined && !/^[\w.-]+$/.test(opts.filename))
      throw new ValidationError(`presign "${key}": file name "${opts.filename}" may hold only letters, digits, "_", "." and "-"`);
    const attachment = opts.filename ? { ResponseContentDisposition: `attachment; filename="${opts.filename}"`, ResponseContentType: "application/gzip" } : {};
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key, ...attachment }), { expiresIn: expiresInSeconds });
  }

  /** Replaces the object's tags (e.g. the archive SHA-256 once the upload is done). Throws NotFoundError. */
  async setTags(key: string, tags: Record<string, string>): Promise<void> {
    const Key = this.s3Key(key);
    const TagSet = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    const problem = tagProblem(TagSet);
    if (problem) throw new ValidationError(`tag "${key}": ${problem}`);
    try {
      await this.client.send(new PutObjectTaggingCommand({ Bucket: this.bucket, Key, Tagging: { TagSet } }));
    } catch (err) {
      throw this.mapError(err, key, "tag");
    }
  }

  /** The object's tags. Throws NotFoundError. */
  async getTags(key: string): Promise<Record<string, string>> {
    const Key = this.s3Key(key);
    try {
      const out = await this.client.send(new GetObjectTaggingCommand({ Bucket: this.bucket, Key }));
      return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
    } catch (err) {
      throw this.mapError(err, key, "read tags of");
    }
  }

  /** Closes the client's sockets if this store created the client. */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  private s3Key(key: string): string {
    validateKey(key);
    return this.prefix + key;
  }

  private exists(key: string, cause: unknown): ObjectExistsError {
    const e = new ObjectExistsError(`store "${key}" in ${this.description}: it exists, and it is written once; nothing was replaced`);
    e.cause = cause;
    return e;
  }

  private mapError(err: unknown, key: string, verb: string): Error {
    const name = errName(err);
    if (name === "NoSuchBucket")
      return new ConfigError(`${verb} "${key}": bucket "${this.bucket}" does not exist (check the bucket name and region)`, {
        cause: err,
      });
    if (name === "NoSuchKey" || isStatus(err, 404))
      return new NotFoundError(`no object "${key}" in ${this.description}`, { cause: err });
    if (name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch")
      return new ConfigError(`${verb} "${key}" in ${this.description}: ${name}; check the credentials and bucket policy`, {
        cause: err,
      });
    if (err instanceof BackupError) return err;
    // What the SDK gave up on after its retries (resets, 5xx, throttling): name the operation, key and store, keep the cause.
    return new Error(`${verb} "${key}" in ${this.description}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function createClient(o: S3StorageOptions): S3Client {
  const custom = o.endpoint !== undefined;
  return new S3Client({
    region: o.region,
    ...(custom && {
      endpoint: o.endpoint,
      // S3-compatible servers may reject the SDK's default CRC checksums; send them only where required.
      requestChecksumCalculation: "WHEN_REQUIRED" as const,
      responseChecksumValidation: "WHEN_REQUIRED" as const,
    }),
    forcePathStyle: o.forcePathStyle ?? custom,
  });
}

async function* countBytes(source: Readable, add: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk instanceof Uint8Array ? chunk : undefined;
    if (!buf) throw new ValidationError(`storage streams must yield bytes or strings, got ${typeof chunk}`);
    add(buf.length);
    yield Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }
}

function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

/** 412: the key exists (If-None-Match: *). 409 ConditionalRequestConflict: a concurrent conditional write to it is in flight. */
/** A put's conditional headers: If-None-Match: * to create only, If-Match: <ETag> to replace only that version. */
const conditions = (opts: PutOptions): { IfNoneMatch?: string; IfMatch?: string } =>
  opts.ifAbsent ? { IfNoneMatch: "*" } : opts.ifVersion !== undefined ? { IfMatch: opts.ifVersion } : {};

function isExists(err: unknown): boolean {
  return isStatus(err, 412) || errName(err) === "ConditionalRequestConflict";
}

function errName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

function isStatus(err: unknown, ...codes: number[]): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status !== undefined && codes.includes(status);
}

// S3's limits: 10 tags, keys 1-128 and values 0-256 characters of letters, digits, spaces and + - = . _ : / @.
function tagProblem(tags: { Key: string; Value: string }[]): string | undefined {
  if (tags.length > 10) return `at most 10 tags are allowed, got ${tags.length}`;
  const allowed = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
  for (const { Key, Value } of tags) {
    if (Key.length < 1 || Key.length > 128 || !allowed.test(Key)) return `tag key ${JSON.stringify(Key)} is not allowed by S3`;
    if (Value.length > 256 || !allowed.test(Value)) return `tag value ${JSON.stringify(Value)} for "${Key}" is not allowed by S3`;
  }
  return undefined;
}
