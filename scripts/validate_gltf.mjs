#!/usr/bin/env node
// Validate glTF/GLB files with the Khronos glTF validator (npm package `gltf-validator`).
//
// Usage: node scripts/validate_gltf.mjs FILE...
// Prints one JSON object per line and file: {path, numErrors, numWarnings, numInfos, numHints,
// messages}. Exit status: 0 if no file has errors, 1 if any has, 2 on bad usage.

import { readFile } from "node:fs/promises";
import path from "node:path";
import validator from "gltf-validator";

/** Loads a buffer or image that a .gltf references by relative URI, from beside the file. */
function resourceLoader(filePath) {
  return async (uri) => {
    const resolved = path.resolve(path.dirname(filePath), decodeURIComponent(uri));
    return new Uint8Array(await readFile(resolved));
  };
}

/** Validates one file and returns the summary object printed for it. */
async function validateFile(filePath) {
  let report;
  try {
    const bytes = new Uint8Array(await readFile(filePath));
    report = await validator.validateBytes(bytes, {
      uri: path.basename(filePath),
      maxIssues: 0,
      writeTimestamp: false,
      externalResourceFunction: resourceLoader(filePath),
    });
  } catch (error) {
    // Unreadable file or undetectable format: the validator rejects instead of reporting.
    const message = { code: "UNREADABLE", message: String(error), severity: 0, pointer: "" };
    return { path: filePath, numErrors: 1, numWarnings: 0, numInfos: 0, numHints: 0, messages: [message] };
  }
  const { numErrors, numWarnings, numInfos, numHints, messages } = report.issues;
  return { path: filePath, numErrors, numWarnings, numInfos, numHints, messages };
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/validate_gltf.mjs FILE...");
  process.exit(2);
}
let failed = false;
for (const file of files) {
  const summary = await validateFile(file);
  failed ||= summary.numErrors > 0;
  console.log(JSON.stringify(summary));
}
process.exit(failed ? 1 : 0);
