// Plays a group (the service's /v1/group/bake) on N characters in sync with an AudioSource:
// every frame each dancer's pose is sampled from its dance and moved onto its spot path, then
// applied after the Animator. Characters are Humanoid Animators, or plain hierarchies with
// canonical joint names (e.g. the dancer_01, dancer_02, ... nodes of the group .glb).
using UnityEngine;

namespace MdTool.Dance
{
    public class GroupPlayer : MonoBehaviour
    {
        [Tooltip("The song; its clock drives every dancer.")]
        public AudioSource audioSource;
        [Tooltip("Humanoid characters, one per dancer (or leave empty and use skeletonRoots).")]
        public Animator[] humanoids = new Animator[0];
        [Tooltip("Plain hierarchies with canonical joint names, one per dancer.")]
        public Transform[] skeletonRoots = new Transform[0];
        [Tooltip("Seconds added to the song time (audio latency compensation).")]
        public float timeOffsetS = 0f;

        GroupSampler sampler;
        IPoseApplier[] appliers;
        Pose pose;
        double manualTime;

        public GroupSampler Sampler { get { return sampler; } }

        public double SongTime
        {
            get
            {
                if (audioSource != null && audioSource.clip != null)
                    return audioSource.timeSamples / (double)audioSource.clip.frequency + timeOffsetS;
                return manualTime + timeOffsetS;
            }
        }

        public void Seek(double timeS)
        {
            manualTime = timeS;
            if (audioSource != null && audioSource.clip != null)
                audioSource.timeSamples = (int)(timeS * audioSource.clip.frequency);
        }

        /// <summary>Play <paramref name="bake"/>: dancer k drives character k (extra dancers
        /// without a character are skipped).</summary>
        public void SetGroup(GroupBake bake)
        {
            sampler = new GroupSampler(bake);
            int count = System.Math.Min(bake.NumDancers, System.Math.Max(humanoids.Length, skeletonRoots.Length));
            appliers = new IPoseApplier[count];
            for (int k = 0; k < count; k++)
            {
                var skeleton = bake.Tracks[bake.TrackOf[k]];
                appliers[k] = k < humanoids.Length && humanoids[k] != null
                    ? (IPoseApplier)new HumanoidPoseApplier(humanoids[k], skeleton)
                    : new TransformPoseApplier(skeletonRoots[k], skeleton);
            }
            pose = sampler.NewPose();
        }

        public void Play()
        {
            if (audioSource != null && audioSource.clip != null && !audioSource.isPlaying) audioSource.Play();
        }

        void LateUpdate()
        {
            if (sampler == null) return;
            if (audioSource == null || audioSource.clip == null) manualTime += Time.deltaTime;
            double t = SongTime;
            for (int k = 0; k < appliers.Length; k++)
            {
                sampler.Sample(k, t, pose);
                appliers[k].Apply(pose);
            }
        }
    }
}
