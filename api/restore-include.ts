// A restore's `include` checked against the backup's manifest at submission, so a path that matches nothing is a 400 naming it.
import type { Context } from "hono";
import { chooseFiles } from "../core/browse.ts";
import { ValidationError } from "../core/errors.ts";
import type { ComponentName, StoredManifest } from "../core/manifest.ts";
import { fieldErrorsBody, type FieldError } from "./errors.ts";

/** One field error per path that matches no file or folder among the chosen components (chooseFiles' own message). */
export function includeErrors(manifest: StoredManifest, components: readonly ComponentName[], include: readonly string[]): FieldError[] {
  const fields: FieldError[] = [];
  include.forEach((p, i) => {
    try {
      chooseFiles(manifest, components, [p], "restore");
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      fields.push({ path: `include.${i}`, message: err.message });
    }
  });
  return fields;
}

/** The same 400 shape as a schema failure, or null when every path matches. */
export function includeRejection(c: Context, fields: FieldError[]): Response | null {
  return fields.length === 0 ? null : c.json(fieldErrorsBody(fields), 400);
}
