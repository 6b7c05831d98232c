// Live choreography from the engine: stream the music that is playing to the service's
// /v1/live WebSocket and play the poses it streams back (docs/live.md).
//  - LiveFrameBuffer: the frames received (MDLV messages, see mdruntime.live_socket), kept in a
//    ring of the last few seconds; Sample(t) interpolates between the two frames around t with
//    no allocation (slerp per joint, lerp of the root), and holds the newest frame when t is
//    past it (the service sends poses up to its look-ahead).
//  - LiveClient: the socket. Enqueue PCM from the audio thread (OnAudioFilterRead gives
//    interleaved floats); a background task sends each chunk and reads the answers into the
//    buffer, so neither the audio thread nor the main thread ever waits on the network.
using System;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace MdTool.Dance
{
    public sealed class LiveFrameBuffer
    {
        public const int HeaderBytes = 28;
        readonly object gate = new object();
        readonly double[] times;
        readonly float[] roots, rotations;
        readonly int capacity;
        int count, newest = -1;
        public readonly int NumJoints;
        public double TempoBpm { get; private set; }
        public double AudioTimeS { get; private set; }
        public bool Locked { get; private set; }
        public int Meter { get; private set; }
        public int FramesReceived { get; private set; }
        public int BeatsReceived { get; private set; }
        /// <summary>Called (on the receiving thread) with each beat time the service declared.</summary>
        public Action<double> OnBeat;

        public LiveFrameBuffer(int numJoints, int capacity = 600)
        {
            NumJoints = numJoints;
            this.capacity = capacity;
            times = new double[capacity];
            roots = new float[capacity * 3];
            rotations = new float[capacity * numJoints * 4];
        }

        /// <summary>Add the frames and beats of one MDLV message (little-endian header
        /// "MDLV", u16 version 1, u16 joints, u32 frames, u32 beats, f32 tempo, f32 time,
        /// u8 locked, u8 meter, u16 reserved; frames of 4 + 4 J floats; beats).</summary>
        public void Add(byte[] data, int length)
        {
            if (length < HeaderBytes || data[0] != (byte)'M' || data[1] != (byte)'D' || data[2] != (byte)'L' || data[3] != (byte)'V')
                throw new FormatException("not an MDLV message");
            if (BitConverter.ToUInt16(data, 4) != 1) throw new FormatException("MDLV version is not 1");
            int joints = BitConverter.ToUInt16(data, 6);
            int frames = (int)BitConverter.ToUInt32(data, 8), beats = (int)BitConverter.ToUInt32(data, 12);
            int width = 4 + 4 * joints;
            if (joints != NumJoints || length != HeaderBytes + 4 * (frames * width + beats))
                throw new FormatException("MDLV message size or joint count does not match");
            lock (gate)
            {
                TempoBpm = BitConverter.ToSingle(data, 16);
                AudioTimeS = BitConverter.ToSingle(data, 20);
                Locked = data[24] != 0;
                Meter = data[25];
                int at = HeaderBytes;
                for (int f = 0; f < frames; f++)
                {
                    newest = (newest + 1) % capacity;
                    count = Math.Min(count + 1, capacity);
                    times[newest] = BitConverter.ToSingle(data, at);
                    for (int k = 0; k < 3; k++) roots[newest * 3 + k] = BitConverter.ToSingle(data, at + 4 + 4 * k);
                    int rot = newest * NumJoints * 4;
                    for (int k = 0; k < NumJoints * 4; k++) rotations[rot + k] = BitConverter.ToSingle(data, at + 16 + 4 * k);
                    at += 4 * width;
                }
                FramesReceived += frames;
                BeatsReceived += beats;
            }
            if (OnBeat != null)
                for (int b = 0; b < beats; b++) OnBeat(BitConverter.ToSingle(data, HeaderBytes + 4 * (frames * width + b)));
        }

        /// <summary>Time of the newest frame (s), or NaN before the first.</summary>
        public double NewestTime { get { lock (gate) return count == 0 ? double.NaN : times[newest]; } }

        /// <summary>The pose at song time <paramref name="timeS"/> into <paramref name="into"/>;
        /// false before the first frame arrived.</summary>
        public bool Sample(double timeS, Pose into)
        {
            lock (gate)
            {
                if (count == 0) return false;
                int oldest = (newest - count + 1 + capacity) % capacity;
                int hi = newest;
                if (timeS <= times[oldest]) { Copy(oldest, oldest, 0, into); return true; }
                if (timeS >= times[newest]) { Copy(newest, newest, 0, into); return true; }
                // the frames are evenly spaced: step back from the newest
                while (times[(hi - 1 + capacity) % capacity] > timeS) hi = (hi - 1 + capacity) % capacity;
                int lo = (hi - 1 + capacity) % capacity;
                double alpha = (timeS - times[lo]) / Math.Max(times[hi] - times[lo], 1e-9);
                Copy(lo, hi, alpha, into);
                return true;
            }
        }

        void Copy(int lo, int hi, double alpha, Pose into)
        {
            for (int k = 0; k < 3; k++)
                into.Root[k] = (float)(roots[lo * 3 + k] * (1 - alpha) + roots[hi * 3 + k] * alpha);
            int a = lo * NumJoints * 4, b = hi * NumJoints * 4;
            for (int j = 0; j < NumJoints; j++)
            {
                int o = j * 4;
                double ax = rotations[a + o], ay = rotations[a + o + 1], az = rotations[a + o + 2], aw = rotations[a + o + 3];
                double bx = rotations[b + o], by = rotations[b + o + 1], bz = rotations[b + o + 2], bw = rotations[b + o + 3];
                double dot = ax * bx + ay * by + az * bz + aw * bw;
                if (dot < 0) { bx = -bx; by = -by; bz = -bz; bw = -bw; dot = -dot; }
                double wa = 1 - alpha, wb = alpha;
                if (dot < 0.9995)
                {
                    double theta = Math.Acos(Math.Min(dot, 1.0)), s = Math.Sin(theta);
                    wa = Math.Sin((1 - alpha) * theta) / s;
                    wb = Math.Sin(alpha * theta) / s;
                }
                double x = wa * ax + wb * bx, y = wa * ay + wb * by, z = wa * az + wb * bz, w = wa * aw + wb * bw;
                double n = Math.Sqrt(x * x + y * y + z * z + w * w);
                into.Rotations[o] = (float)(x / n);
                into.Rotations[o + 1] = (float)(y / n);
                into.Rotations[o + 2] = (float)(z / n);
                into.Rotations[o + 3] = (float)(w / n);
            }
        }
    }

    public sealed class LiveClient : IDisposable
    {
        readonly ClientWebSocket socket = new ClientWebSocket();
        readonly BlockingCollection<float[]> chunks = new BlockingCollection<float[]>(256);
        readonly CancellationTokenSource stop = new CancellationTokenSource();
        Task pump;
        public LiveFrameBuffer Frames { get; private set; }
        public string[] JointNames { get; private set; }
        public int[] Parents { get; private set; }
        /// <summary>The skeleton of the frames (a PoseTrack without frames) for the appliers.</summary>
        public PoseTrack Skeleton { get; private set; }
        public int Channels { get; private set; }
        /// <summary>Text messages from the service (phrase choices, the summary, errors).</summary>
        public readonly ConcurrentQueue<string> Messages = new ConcurrentQueue<string>();
        public Exception Failure { get; private set; }
        public long SamplesSent { get; private set; }
        public int SampleRate { get; private set; }

        /// <summary>Open <c>ws://host:port/v1/live</c> for a stream of <paramref name="channels"/>
        /// interleaved float channels at <paramref name="sampleRate"/> Hz and wait for "ready".</summary>
        public async Task ConnectAsync(Uri service, int sampleRate, int channels, string style = null,
                                       long seed = 0, string token = null, double lookaheadMs = 100,
                                       int frameCapacity = 600)
        {
            var query = new StringBuilder();
            query.Append("v1/live?format=f32&sr_hz=").Append(sampleRate).Append("&channels=").Append(channels)
                 .Append("&seed=").Append(seed).Append("&lookahead_ms=").Append(lookaheadMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(style)) query.Append("&style=").Append(Uri.EscapeDataString(style));
            if (token != null) socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
            var url = new Uri(service, query.ToString());
            await socket.ConnectAsync(url, CancellationToken.None).ConfigureAwait(false);
            string ready = await ReceiveText().ConfigureAwait(false);
            var fields = (System.Collections.Generic.Dictionary<string, object>)MiniJson.Parse(ready);
            if ((string)fields["type"] != "ready") throw new InvalidOperationException("service: " + ready);
            var joints = (System.Collections.Generic.List<object>)fields["joints"];
            var parents = (System.Collections.Generic.List<object>)fields["parents"];
            JointNames = new string[joints.Count];
            Parents = new int[parents.Count];
            for (int j = 0; j < joints.Count; j++) { JointNames[j] = (string)joints[j]; Parents[j] = Convert.ToInt32(parents[j]); }
            var offsets = (System.Collections.Generic.List<object>)fields["offsets_m"];
            Skeleton = new PoseTrack { JointNames = JointNames, Parents = Parents, NumJoints = JointNames.Length,
                                       Offsets = new double[offsets.Count], Fps = Convert.ToDouble(fields["fps"]) };
            for (int k = 0; k < offsets.Count; k++) Skeleton.Offsets[k] = Convert.ToDouble(offsets[k]);
            Frames = new LiveFrameBuffer(JointNames.Length, frameCapacity);
            Channels = channels;
            SampleRate = sampleRate;
            pump = Task.Run(() => Pump());
        }

        /// <summary>Queue interleaved samples (safe from the audio thread; copies them).</summary>
        public bool Enqueue(float[] interleaved, int length)
        {
            var copy = new float[length];
            Array.Copy(interleaved, copy, length);
            return chunks.TryAdd(copy);
        }

        async Task Pump()
        {
            var bytes = new byte[0];
            var buffer = new byte[1 << 16];
            try
            {
                foreach (var chunk in chunks.GetConsumingEnumerable(stop.Token))
                {
                    if (bytes.Length != chunk.Length * 4) bytes = new byte[chunk.Length * 4];
                    Buffer.BlockCopy(chunk, 0, bytes, 0, bytes.Length);  // little-endian floats
                    await socket.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Binary, true, stop.Token).ConfigureAwait(false);
                    SamplesSent += chunk.Length / Channels;
                    while (true)  // text messages (choices) may come before the frames
                    {
                        int length = 0;
                        WebSocketReceiveResult result;
                        do
                        {
                            if (length == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                            result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), stop.Token).ConfigureAwait(false);
                            length += result.Count;
                        } while (!result.EndOfMessage);
                        if (result.MessageType == WebSocketMessageType.Close) return;
                        if (result.MessageType == WebSocketMessageType.Text) { Messages.Enqueue(Encoding.UTF8.GetString(buffer, 0, length)); continue; }
                        Frames.Add(buffer, length);
                        break;
                    }
                }
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { Failure = e; }
        }

        async Task<string> ReceiveText()
        {
            var buffer = new byte[1 << 16];
            int length = 0;
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), CancellationToken.None).ConfigureAwait(false);
                length += result.Count;
            } while (!result.EndOfMessage);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }

        /// <summary>Send everything queued, ask for the summary, and return it (JSON text).</summary>
        public async Task<string> FinishAsync()
        {
            chunks.CompleteAdding();
            await pump.ConfigureAwait(false);
            if (Failure != null) throw Failure;
            var end = Encoding.UTF8.GetBytes("{\"type\": \"end\"}");
            await socket.SendAsync(new ArraySegment<byte>(end), WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
            while (true)
            {
                string text = await ReceiveText().ConfigureAwait(false);
                if (text.Contains("\"summary\"")) return text;
                Messages.Enqueue(text);
            }
        }

        public void Dispose()
        {
            stop.Cancel();
            socket.Dispose();
        }
    }
}
