// The player: the service's .glb (skinned mannequin) on a grid with an orbit camera. The audio
// element's clock drives the animation: every frame the clip is set to audio.currentTime, so
// seeking, pausing and the playback rate need nothing of their own. A phrase from the library
// plays on its own clock (looping) while the song is paused.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

const STATS_FRAMES = 1200; // per-frame timings kept for the page's own report

export class Player {
  constructor(container, audio) {
    this.audio = audio;
    const t0 = performance.now();
    this.renderer = new THREE.WebGLRenderer({ antialias: true });
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
    this.initTimes = { context_ms: t1 - t0, scene_ms: t2 - t1, warm_up_ms: performance.now() - t2 };
  }

  /** Compile the skinned Lambert material's shaders (what the mannequin is drawn with) while
   * the dance is still on its way. */
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
    this.renderer.render(this.scene, this.camera);
    this.scene.remove(mesh);
    geometry.dispose();
    this.warmMaterial = material; // kept: disposing it would release the compiled program
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
    this.step();
    this.loadTimes = { parse_ms: parsed - started, first_draw_ms: performance.now() - parsed };
    return this.clip.duration;
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
      for (const mesh of this.skinned) mesh.skeleton.update();
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
