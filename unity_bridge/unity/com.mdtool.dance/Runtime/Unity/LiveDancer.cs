// Dances to whatever an AudioSource is playing, live (a radio, adaptive music, a microphone):
// OnAudioFilterRead hands every block of samples (mixed to mono) to a LiveClient streaming to the mdtool
// service's /v1/live; LateUpdate applies the pose for the audio time heard. The first seconds
// are an idle groove until the service locks on the beat. Put this component on the GameObject
// of the AudioSource (Unity calls OnAudioFilterRead there).
using System;
using UnityEngine;

namespace MdTool.Dance
{
    public class LiveDancer : MonoBehaviour
    {
        [Tooltip("The mdtool service (mdtool serve), e.g. ws://127.0.0.1:8765/")]
        public string serviceUrl = "ws://127.0.0.1:8765/";
        [Tooltip("Bearer token when the service has one.")]
        public string token = "";
        [Tooltip("Dance style (empty: chosen from the music).")]
        public string style = "";
        public long seed = 0;
        [Tooltip("A Humanoid character (bones through Animator.GetBoneTransform).")]
        public Animator humanoid;
        [Tooltip("Or a plain hierarchy with canonical joint names (e.g. an imported .glb).")]
        public Transform skeletonRoot;
        [Tooltip("Seconds added to the audio time (negative: the output buffer's latency).")]
        public float timeOffsetS = 0f;

        LiveClient client;
        IPoseApplier applier;
        Pose pose;
        volatile int sampleRate;
        long samplesHeard;
        bool connecting;

        /// <summary>Seconds of audio that went through this filter.</summary>
        public double AudioTime { get { return sampleRate > 0 ? samplesHeard / (double)sampleRate : 0.0; } }

        public LiveFrameBuffer Frames { get { return client != null ? client.Frames : null; } }

        float[] mono = new float[0];

        void OnAudioFilterRead(float[] data, int channels)
        {
            if (client == null || client.Frames == null) return;
            int frames = data.Length / channels;
            if (mono.Length != frames) mono = new float[frames];  // once: Unity keeps the block size
            for (int f = 0; f < frames; f++)
            {
                float sum = 0f;
                for (int c = 0; c < channels; c++) sum += data[f * channels + c];
                mono[f] = sum / channels;
            }
            client.Enqueue(mono, frames);
            samplesHeard += frames;
        }

        async void Start()
        {
            sampleRate = AudioSettings.outputSampleRate;
            connecting = true;
            var connection = new LiveClient();
            try
            {
                await connection.ConnectAsync(new Uri(serviceUrl), sampleRate, 1,
                                              string.IsNullOrEmpty(style) ? null : style, seed,
                                              string.IsNullOrEmpty(token) ? null : token);
                applier = humanoid != null ? (IPoseApplier)new HumanoidPoseApplier(humanoid, connection.Skeleton)
                                           : new TransformPoseApplier(skeletonRoot, connection.Skeleton);
                pose = new Pose(connection.Skeleton.NumJoints);
                client = connection;
            }
            catch (Exception e)
            {
                connection.Dispose();
                Debug.LogError("mdtool live: cannot connect to " + serviceUrl + ": " + e.Message);
            }
            connecting = false;
        }

        void LateUpdate()
        {
            if (client == null || connecting) return;
            if (client.Failure != null)
            {
                Debug.LogError("mdtool live: " + client.Failure.Message);
                client.Dispose();
                client = null;
                return;
            }
            if (client.Frames.Sample(AudioTime + timeOffsetS, pose)) applier.Apply(pose);
        }

        void OnDestroy()
        {
            if (client != null) client.Dispose();
        }
    }
}
