// The player: the service's .glb (skinned mannequin) on a grid with an orbit camera. The audio
// element's clock drives the animation: every frame the clip is set to audio.currentTime, so
// seeking, pausing and the playback rate need nothing of their own. A phrase from the library
// plays on its own clock (looping) while the song is paused.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { Retarget } from "./retarget.js";

const STATS_FRAMES = 1200; // per-frame timings kept for the page's own report

export class Player {
  /** `early`: a canvas and WebGL2 context made by the page before the modules ran (or none). */
  constructor(container, audio, early = {}) {
    this.audio = audio;
    const t0 = performance.now();
    this.renderer = early.gl
      ? new THREE.WebGLRenderer({ antialias: true, canvas: early.canvas, context: early.gl })
      : new THREE.WebGLRenderer({ antialias: true });
    const t1 = performance.now();
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    container.appendChild(this.renderer.domElement);
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x9aa7b4);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x445566, 2.0));
    const sun = new THREE.DirectionalLight(0xffffff, 2.0);
    sun.position.set(2, 4, 3);
    this.scene.add(sun);
    this.scene.add(new THREE.GridHelper(10, 20, 0x3b4754, 0x66727f));
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.05, 100);
    this.camera.position.set(1.6, 1.7, 3.0);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.target.set(0, 0.95, 0);
    this.controls.update();
    this.container = container;
    this.model = null;
    this.mixer = null;
    this.action = null;
    this.fps = 30;
    this.phraseClock = null; // {start_ms} while a library phrase plays
    this.stats = { update_ms: [], render_ms: [] };
    this.frames = 0;
    this.onFrame = () => {};
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
    const t2 = performance.now();
    this.warmUp();
    this.initTimes = { context_ms: early.context_ms ?? t1 - t0, renderer_ms: t1 - t0,
      scene_ms: t2 - t1, warm_up_ms: performance.now() - t2 };
  }

  /** Compile the skinned Lambert material's shaders (what the mannequin is drawn with) while
   * the dance is still on its way: in parallel where the browser can (three.js's
   * compileAsync, KHR_parallel_shader_compile), so the page goes on meanwhile. */
  warmUp() {
    const geometry = new THREE.BoxGeometry(0.01, 0.01, 0.01);
    const count = geometry.attributes.position.count;
    geometry.setAttribute("skinIndex", new THREE.Uint16BufferAttribute(new Uint16Array(4 * count), 4));
    geometry.setAttribute("skinWeight", new THREE.Float32BufferAttribute(
      new Float32Array(4 * count).map((_, i) => (i % 4 === 0 ? 1 : 0)), 4));
    const material = new THREE.MeshLambertMaterial();
    const mesh = new THREE.SkinnedMesh(geometry, material);
    const bone = new THREE.Bone();
    mesh.add(bone);
    mesh.bind(new THREE.Skeleton([bone]));
    this.scene.add(mesh);
    this.warmMaterial = material; // kept: disposing it would release the compiled program
    this.warmed = this.renderer.compileAsync(this.scene, this.camera).then(() => {
      this.scene.remove(mesh);
      geometry.dispose();
      this.warmTimes = { shaders_ready_ms: performance.now() };
    });
  }

  resize() {
    const { clientWidth: w, clientHeight: h } = this.container;
    if (!w || !h) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
  }

  /** Show a .glb (ArrayBuffer); `phrase`: play it on its own clock, looping. */
  async load(buffer, { fps = 30, phrase = false } = {}) {
    const started = performance.now();
    const gltf = await new GLTFLoader().parseAsync(buffer, "");
    const parsed = performance.now();
    if (this.model) this.scene.remove(this.model);
    this.model = gltf.scene;
    this.scene.add(this.model);
    this.model.updateMatrixWorld(true);
    this.sourceBones = new Map(); // canonical joint -> the mannequin's bone, and its rest (world)
    this.sourceRest = new Map();
    this.model.traverse((o) => {
      if (!o.isBone) return;
      this.sourceBones.set(o.name, o);
      const position = new THREE.Vector3(), quaternion = new THREE.Quaternion();
      o.matrixWorld.decompose(position, quaternion, new THREE.Vector3());
      this.sourceRest.set(o.name, { position, quaternion });
    });
    this.skinned = [];
    this.model.traverse((o) => {
      if (!o.isSkinnedMesh) return;
      this.skinned.push(o);
      o.frustumCulled = false;
      // Lambert instead of the file's metal-roughness material: the same colour, and shaders
      // that software WebGL compiles several times faster (page-ready time, docs/studio.md)
      o.material = new THREE.MeshLambertMaterial({ color: o.material.color });
    });
    this.mixer = new THREE.AnimationMixer(this.model);
    this.clip = gltf.animations[0];
    this.action = this.mixer.clipAction(this.clip);
    this.action.setLoop(phrase ? THREE.LoopRepeat : THREE.LoopOnce);
    this.action.clampWhenFinished = true;
    this.action.play();
    this.fps = fps;
    this.phraseClock = phrase ? { start_ms: performance.now() } : null;
    if (this.character) this.drive();
    this.step();
    this.loadTimes = { parse_ms: parsed - started, first_draw_ms: performance.now() - parsed };
    return this.clip.duration;
  }

  /** Show a user's glTF character (ArrayBuffer) driven by the dance; `mapping`: the service's
   * match of its bones (POST /v1/studio/character: canonical joint -> glTF node index). */
  async setCharacter(buffer, mapping) {
    const gltf = await new GLTFLoader().parseAsync(buffer, "");
    const byNode = new Map();
    for (const [object, found] of gltf.parser.associations) {
      if (object.isObject3D && found.nodes !== undefined) byNode.set(found.nodes, object);
    }
    const bones = new Map();
    for (const [name, node] of Object.entries(mapping.joints)) {
      if (byNode.has(node)) bones.set(name, byNode.get(node));
    }
    this.clearCharacter();
    this.character = { scene: gltf.scene, bones, parents: mapping.parents, meshes: [] };
    gltf.scene.updateMatrixWorld(true);
    gltf.scene.traverse((o) => {
      if (o.isSkinnedMesh) { o.frustumCulled = false; this.character.meshes.push(o); }
    });
    this.scene.add(gltf.scene);
    this.drive();
    this.step();
    return bones.size;
  }

  /** Back to the mannequin. */
  clearCharacter() {
    if (!this.character) return;
    this.scene.remove(this.character.scene);
    this.character = null;
    this.retarget = null;
    if (this.model) this.model.visible = true;
  }

  /** Drive the character from the mannequin now loaded (hidden, still animated). */
  drive() {
    const { scene, bones, parents } = this.character;
    for (const bone of bones.values()) { // back to the character's rest before measuring it
      if (bone.userData.rest) { bone.position.copy(bone.userData.rest.p); bone.quaternion.copy(bone.userData.rest.q); }
      else bone.userData.rest = { p: bone.position.clone(), q: bone.quaternion.clone() };
    }
    scene.updateMatrixWorld(true);
    this.retarget = new Retarget(this.sourceRest, (n) => this.sourceBones.get(n), scene, bones, parents);
    this.model.visible = false;
  }

  /** World positions (m) of the joints both figures have: {mannequin: {name: [x, y, z]},
   * character: {...}} (the tests compare them). */
  bonesWorld() {
    const out = { mannequin: {}, character: {} };
    if (!this.character) return out;
    for (const [name, bone] of this.character.bones) {
      const source = this.sourceBones.get(name);
      if (!source) continue;
      out.mannequin[name] = source.getWorldPosition(new THREE.Vector3()).toArray();
      out.character[name] = bone.getWorldPosition(new THREE.Vector3()).toArray();
    }
    return out;
  }

  /** The clock the animation follows: the audio's, or the phrase's own. */
  clockS() {
    if (this.phraseClock) return (performance.now() - this.phraseClock.start_ms) / 1000;
    return this.audio.currentTime;
  }

  /** Sample the pose at the clock and draw; times the update (pose sampling, bone matrices)
   * and the draw (which uploads the skinning) separately. */
  step() {
    const audioS = this.clockS();
    let animS = 0;
    const t0 = performance.now();
    if (this.mixer) {
      this.mixer.setTime(audioS);
      animS = this.action.time;
      this.model.updateMatrixWorld(true);
      if (this.retarget) {
        this.retarget.apply();
        for (const mesh of this.character.meshes) mesh.skeleton.update();
      } else {
        for (const mesh of this.skinned) mesh.skeleton.update();
      }
    }
    const t1 = performance.now();
    this.renderer.render(this.scene, this.camera);
    const t2 = performance.now();
    if (this.mixer) {
      push(this.stats.update_ms, t1 - t0);
      push(this.stats.render_ms, t2 - t1);
    }
    this.frames += 1;
    this.onFrame(audioS, animS);
  }

  run() {
    const loop = () => { this.step(); requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
  }

  hipsWorld() {
    const hips = this.model && this.model.getObjectByName("Hips");
    return hips ? hips.getWorldPosition(new THREE.Vector3()).toArray() : null;
  }
}

function push(list, value) {
  list.push(value);
  if (list.length > STATS_FRAMES) list.shift();
}
