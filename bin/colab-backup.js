#!/usr/bin/env node
// Entry point for `npx colab-backup`: runs the TypeScript CLI through tsx's loader, no build step needed.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
