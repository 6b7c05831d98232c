// Plays a baked dance on a character in sync with an AudioSource: every frame the song time is
// read from the audio clock (AudioSource.timeSamples, sample-accurate), the pose is sampled and
// applied after the Animator (LateUpdate). Switching to another dance mid-song (an edit)
// inertializes the jump, as the renderer does at phrase joins.
using UnityEngine;

namespace MdTool.Dance
{
    public class DancePlayer : MonoBehaviour
    {
        [Tooltip("The song; its clock drives the dance.")]
        public AudioSource audioSource;
        [Tooltip("A Humanoid character (bones through Animator.GetBoneTransform).")]
        public Animator humanoid;
        [Tooltip("Or a plain hierarchy with canonical joint names (e.g. an imported .glb).")]
        public Transform skeletonRoot;
        [Tooltip("Seconds added to the song time (audio latency compensation).")]
        public float timeOffsetS = 0f;
        [Tooltip("Half-life of the blend when the dance changes mid-song.")]
        public float switchHalflifeS = 0.18f;

        PoseTrack track;
        PoseSampler sampler;
        IPoseApplier applier;
        Pose pose, before, last, first, second;
        Inertializer blend;
        double manualTime;

        public PoseTrack Track { get { return track; } }

        /// <summary>Song time in seconds: the AudioSource's clock when it has a clip, else the
        /// time set with <see cref="Seek"/> advanced by Time.deltaTime.</summary>
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

        /// <summary>Play <paramref name="newTrack"/>; with <paramref name="blendSwitch"/> the
        /// change from the current dance is inertialized.</summary>
        public void SetTrack(PoseTrack newTrack, bool blendSwitch = true)
        {
            var newSampler = new PoseSampler(newTrack);
            if (applier == null || track == null || newTrack.NumJoints != track.NumJoints)
            {
                applier = humanoid != null ? (IPoseApplier)new HumanoidPoseApplier(humanoid, newTrack)
                                           : new TransformPoseApplier(skeletonRoot, newTrack);
                blend = new Inertializer(newTrack.NumJoints);
                pose = newSampler.NewPose();
                before = newSampler.NewPose();
                last = newSampler.NewPose();
                first = newSampler.NewPose();
                second = newSampler.NewPose();
            }
            else if (blendSwitch)
            {
                double t = SongTime, dt = 1.0 / newTrack.Fps;
                sampler.Sample(t - dt, before);
                sampler.Sample(t, last);
                newSampler.Sample(t, first);
                newSampler.Sample(t + dt, second);
                blend.Begin(before, last, first, second, dt, t, switchHalflifeS);
            }
            track = newTrack;
            sampler = newSampler;
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
            sampler.Sample(t, pose);
            blend.Apply(t, pose);
            applier.Apply(pose);
        }
    }
}
