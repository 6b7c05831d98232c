// Applying sampled poses (canonical skeleton, right-handed) to Unity characters.
//  - HumanoidPoseApplier: any Humanoid rig, through Animator.GetBoneTransform(HumanBodyBones):
//    the canonical joint names are HumanBodyBones names. Each bone gets the canonical joint's
//    rotation relative to the T-pose, applied on top of the bone's own T-pose orientation
//    (captured at construction: put the rig in T-pose first, e.g. Avatar "Enforce T-Pose").
//    Bones the rig lacks (UpperChest, Toes...) are skipped; hips movement is scaled by hips height.
//  - TransformPoseApplier: a plain hierarchy whose joints are named like the canonical skeleton
//    (e.g. the .glb the service renders, imported with glTFast or UnityGLTF): local rotations
//    and the root position are set directly.
using System;
using UnityEngine;

namespace MdTool.Dance
{
    public interface IPoseApplier
    {
        void Apply(Pose pose);
    }

    public static class UnityConvert
    {
        public static Quaternion ToUnity(QuatD q)
        {
            var u = Handedness.RotationToUnity(q);
            return new Quaternion((float)u.X, (float)u.Y, (float)u.Z, (float)u.W);
        }

        public static Vector3 ToUnity(Vec3D p)
        {
            var u = Handedness.PositionToUnity(p);
            return new Vector3((float)u.X, (float)u.Y, (float)u.Z);
        }
    }

    public sealed class TransformPoseApplier : IPoseApplier
    {
        readonly Transform[] bones;
        readonly bool moveRoot;

        public TransformPoseApplier(Transform skeletonRoot, PoseTrack skeleton, bool moveRoot = true)
        {
            bones = new Transform[skeleton.NumJoints];
            var all = skeletonRoot.GetComponentsInChildren<Transform>(true);
            for (int j = 0; j < skeleton.NumJoints; j++)
                foreach (var t in all)
                    if (t.name == skeleton.JointNames[j]) { bones[j] = t; break; }
            if (bones[0] == null) throw new ArgumentException("no transform named " + skeleton.JointNames[0] + " under " + skeletonRoot.name);
            this.moveRoot = moveRoot;
        }

        public void Apply(Pose pose)
        {
            for (int j = 0; j < bones.Length; j++)
                if (bones[j] != null) bones[j].localRotation = UnityConvert.ToUnity(pose.Rotation(j));
            if (moveRoot) bones[0].localPosition = UnityConvert.ToUnity(pose.RootPosition);
        }
    }

    public sealed class HumanoidPoseApplier : IPoseApplier
    {
        readonly Transform character;
        readonly PoseTrack skeleton;
        readonly Transform[] bones;
        readonly Quaternion[] restRelative;
        readonly QuatD[] globalRotations;
        readonly Vec3D[] globalPositions;
        readonly float scale;
        public bool MoveHips = true;

        public HumanoidPoseApplier(Animator animator, PoseTrack skeleton)
        {
            if (animator == null || !animator.isHuman) throw new ArgumentException("the Animator needs a Humanoid avatar");
            character = animator.transform;
            this.skeleton = skeleton;
            bones = new Transform[skeleton.NumJoints];
            restRelative = new Quaternion[skeleton.NumJoints];
            globalRotations = new QuatD[skeleton.NumJoints];
            globalPositions = new Vec3D[skeleton.NumJoints];
            Quaternion toCharacter = Quaternion.Inverse(character.rotation);
            for (int j = 0; j < skeleton.NumJoints; j++)
            {
                HumanBodyBones bone;
                if (!Enum.TryParse(skeleton.JointNames[j], out bone)) continue;
                bones[j] = animator.GetBoneTransform(bone);
                if (bones[j] != null) restRelative[j] = toCharacter * bones[j].rotation;
            }
            if (bones[0] == null) throw new ArgumentException("the avatar has no Hips bone");
            float rigHips = character.InverseTransformPoint(bones[0].position).y;
            float canonicalHips = (float)skeleton.Offsets[1];  // the root's rest height
            scale = canonicalHips > 1e-3f && rigHips > 1e-3f ? rigHips / canonicalHips : 1f;
        }

        public void Apply(Pose pose)
        {
            ForwardKinematics.Compute(skeleton, pose, globalRotations, globalPositions);
            Quaternion root = character.rotation;
            for (int j = 0; j < bones.Length; j++)
                if (bones[j] != null) bones[j].rotation = root * UnityConvert.ToUnity(globalRotations[j]) * restRelative[j];
            if (MoveHips) bones[0].position = character.TransformPoint(UnityConvert.ToUnity(pose.RootPosition) * scale);
        }
    }
}
