// Load a .glb with three.js's GLTFLoader in Node, play its first clip with an AnimationMixer and
// print the bones' world positions at the given times as JSON (tests/test_engines.py).
// Usage: node scripts/three_sample.mjs FILE.glb T0 T1 ...
import { readFileSync } from "node:fs";
import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { sampleClip } from "./three_check.mjs";

const [file, ...times] = process.argv.slice(2);
const errors = [];
const originalError = console.error;
console.error = (...args) => { errors.push(args.join(" ")); originalError(...args); };
const data = readFileSync(file);
const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
new GLTFLoader().parse(buffer, "", (gltf) => {
  const { mixer, ...found } = sampleClip(THREE, gltf, times.map(Number));
  process.stdout.write(JSON.stringify({ ...found, errors }));
}, (error) => { console.log(JSON.stringify({ error: String(error) })); process.exit(1); });
