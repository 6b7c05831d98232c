// Shared by scripts/three_sample.mjs (Node), scripts/three_fbx_sample.mjs (Node) and
// scripts/three_page.html (headless Chromium): play a loaded scene's clip once with an
// AnimationMixer and sample the bones' world positions. THREE is passed in, so the same file runs
// under Node's and the browser's imports.
export function sampleScene(THREE, scene, clip, times) {
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
  for (const t of times) {
    mixer.setTime(t);
    scene.updateMatrixWorld(true);
    const row = {};
    for (const name of names) {
      scene.getObjectByName(name).getWorldPosition(position);
      row[name] = [position.x, position.y, position.z];
    }
    samples.push({ t, positions: row });
  }
  return {
    mixer, clip: clip.name, duration: clip.duration, tracks: clip.tracks.length,
    scene: scene.name, names, samples,
  };
}

// A glTF's first clip, sampled, with the names of its animation extras.
export function sampleClip(THREE, gltf, times) {
  const found = sampleScene(THREE, gltf.scene, gltf.animations[0], times);
  const extras = gltf.parser.json.animations[0].extras || {};
  return { ...found, extras_keys: Object.keys(extras) };
}
