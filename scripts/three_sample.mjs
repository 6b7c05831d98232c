// Load a .glb with three.js's GLTFLoader in Node, play its first clip with an AnimationMixer and
// print the bones' world positions at the given times as JSON (tests/test_engines.py).
// Usage: node scripts/three_sample.mjs FILE.glb T0 T1 ...
import { readFileSync } from "node:fs";
import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";

const [file, ...times] = process.argv.slice(2);
const errors = [];
const originalError = console.error;
console.error = (...args) => { errors.push(args.join(" ")); originalError(...args); };
const data = readFileSync(file);
const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
new GLTFLoader().parse(buffer, "", (gltf) => {
  const scene = gltf.scene;
  const clip = gltf.animations[0];
  const mixer = new THREE.AnimationMixer(scene);
  // Played once and held: a looping action is back at its first frame at t = duration.
  const action = mixer.clipAction(clip);
  action.setLoop(THREE.LoopOnce);
  action.clampWhenFinished = true;
  action.play();
  mixer.update(0);
  const names = [];
  scene.traverse((node) => { if (node.isBone) names.push(node.name); });
  const samples = [];
  const position = new THREE.Vector3();
  for (const t of times.map(Number)) {
    mixer.setTime(t);
    scene.updateMatrixWorld(true);
    const row = {};
    for (const name of names) {
      const node = scene.getObjectByName(name);
      node.getWorldPosition(position);
      row[name] = [position.x, position.y, position.z];
    }
    samples.push({ t, positions: row });
  }
  const extras = gltf.parser.json.animations[0].extras || {};
  process.stdout.write(JSON.stringify({
    clip: clip.name, duration: clip.duration, tracks: clip.tracks.length,
    scene: gltf.scene.name, names, extras_keys: Object.keys(extras), samples, errors,
  }));
}, (error) => { console.log(JSON.stringify({ error: String(error) })); process.exit(1); });
