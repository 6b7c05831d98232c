// Load an .fbx with three.js's FBXLoader in Node (an FBX reader independent of Blender's), play
// its first take once and print the bones' world positions at the given times as JSON, in the
// file's own units (tests/test_engines.py). Usage: node scripts/three_fbx_sample.mjs FILE.fbx T0 T1 ...
import { readFileSync } from "node:fs";
import * as THREE from "three";
import { FBXLoader } from "three/examples/jsm/loaders/FBXLoader.js";
import { sampleScene } from "./three_check.mjs";

const [file, ...times] = process.argv.slice(2);
const errors = [];
const originalError = console.error;
console.error = (...args) => { errors.push(args.join(" ")); originalError(...args); };
const warnings = [];
console.warn = (...args) => { warnings.push(args.join(" ")); };
const data = readFileSync(file);
try {
  const group = new FBXLoader().parse(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), "");
  const { mixer, ...found } = sampleScene(THREE, group, group.animations[0], times.map(Number));
  process.stdout.write(JSON.stringify({ ...found, takes: group.animations.map((a) => a.name), errors, warnings }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error) }));
  process.exit(1);
}
