// A user's glTF character driven by the dance (docs/studio.md, "Your own character"). The
// service matches the character's bones to the dance's canonical joints by name
// (POST /v1/studio/character: musicdance.motion.retarget.map_joints, the matching used for
// imported BVH rigs: canonical, Mixamo, CMU... names, synonyms, else the rig's shape). Every
// frame each matched bone takes the mannequin bone's world rotation relative to its rest,
// applied to the character's rest after the two rests are aligned (the bone pointing the same
// way: a T-pose dance drives an A-pose character); the hips travel and rise as the
// mannequin's, scaled by the ratio of the two hips' rest heights (leg length).
import * as THREE from "three";

const _q = new THREE.Quaternion();
const _p = new THREE.Vector3();

function worldOf(object) {
  object.updateWorldMatrix(true, false);
  const position = new THREE.Vector3(), quaternion = new THREE.Quaternion();
  object.matrixWorld.decompose(position, quaternion, new THREE.Vector3());
  return { position, quaternion };
}

/** The rotation taking the frame (up, side) of one rig onto another's (both world vectors). */
function basisRotation(upFrom, sideFrom, upTo, sideTo) {
  const frame = (up, side) => {
    const y = up.clone().normalize();
    const z = new THREE.Vector3().crossVectors(side, y).normalize();
    const x = new THREE.Vector3().crossVectors(y, z);
    return new THREE.Matrix4().makeBasis(x, y, z);
  };
  const m = frame(upTo, sideTo).multiply(frame(upFrom, sideFrom).transpose());
  return new THREE.Quaternion().setFromRotationMatrix(m);
}

export class Retarget {
  /**
   * @param {Map<string, {position, quaternion}>} sourceRest the mannequin's joints at rest
   *   (world), by canonical name
   * @param {(name: string) => THREE.Object3D} sourceBone the mannequin's bone now
   * @param {THREE.Object3D} character the character's scene, at rest
   * @param {Map<string, THREE.Object3D>} bones canonical name -> the character's bone
   * @param {Object<string, string|null>} parents canonical name -> canonical parent
   */
  constructor(sourceRest, sourceBone, character, bones, parents) {
    this.sourceBone = sourceBone;
    this.character = character;
    const names = [...bones.keys()].filter((n) => sourceRest.has(n));
    const depth = (o) => { let d = 0; for (let p = o.parent; p; p = p.parent) d += 1; return d; };
    names.sort((a, b) => depth(bones.get(a)) - depth(bones.get(b)));
    const rest = new Map(names.map((n) => [n, worldOf(bones.get(n))]));
    const children = (n) => names.filter((c) => parents[c] === n)
      .sort((a, b) => /^(Left|Right)/.test(a) - /^(Left|Right)/.test(b)); // the spine first
    const direction = (table, from, to) => table.get(to).position.clone().sub(table.get(from).position);
    const align = new Map();
    for (const n of names) {
      const next = children(n)[0];
      if (n === "Hips" && rest.has("Spine") && rest.has("LeftUpperLeg") && rest.has("RightUpperLeg")) {
        align.set(n, basisRotation(
          direction(rest, "Hips", "Spine"), direction(rest, "RightUpperLeg", "LeftUpperLeg"),
          direction(sourceRest, "Hips", "Spine"), direction(sourceRest, "RightUpperLeg", "LeftUpperLeg")));
      } else if (next) {
        align.set(n, new THREE.Quaternion().setFromUnitVectors(
          direction(rest, n, next).normalize(), direction(sourceRest, n, next).normalize()));
      } else { // a leaf (hand, head, toes) keeps its parent's alignment
        align.set(n, (align.get(parents[n]) || new THREE.Quaternion()).clone());
      }
    }
    // per bone: the character's rest world rotation, aligned to the mannequin's rest
    this.joints = names.map((n) => ({
      name: n, bone: bones.get(n),
      sourceRestInverse: sourceRest.get(n).quaternion.clone().invert(),
      targetRest: align.get(n).clone().multiply(rest.get(n).quaternion),
    }));
    this.hips = bones.get("Hips");
    this.sourceHipsRest = sourceRest.get("Hips").position.clone();
    this.targetHipsRest = rest.get("Hips").position.clone();
    this.scale = this.targetHipsRest.y / Math.max(this.sourceHipsRest.y, 1e-6);
    this.bones = bones;
  }

  /** Pose the character as the mannequin stands now (the mannequin's matrices current). */
  apply() {
    for (const joint of this.joints) {
      this.sourceBone(joint.name).getWorldQuaternion(_q); // the mannequin's, now
      _q.multiply(joint.sourceRestInverse).multiply(joint.targetRest); // the character's, world
      const parent = joint.bone.parent;
      parent.updateWorldMatrix(true, false);
      parent.getWorldQuaternion(joint.bone.quaternion).invert().multiply(_q);
      if (joint.bone === this.hips) { // travel and height scaled by the legs' ratio
        this.sourceBone("Hips").getWorldPosition(_p);
        _p.set(this.targetHipsRest.x + (_p.x - this.sourceHipsRest.x) * this.scale,
          _p.y * this.scale, this.targetHipsRest.z + (_p.z - this.sourceHipsRest.z) * this.scale);
        joint.bone.position.copy(parent.worldToLocal(_p));
      }
      joint.bone.updateWorldMatrix(false, false);
    }
    this.character.updateMatrixWorld(true);
  }
}
