// Streams a raw float32 mono file to a running mdtool service's /v1/live with LiveClient, the
// way LiveDancer does from OnAudioFilterRead, then writes every received frame sampled back
// from the LiveFrameBuffer (time, root xyz, rotations) as float32 and the summary JSON.
// Usage: mono LiveClientTests.exe URL PCM_F32 SAMPLE_RATE CHUNK STYLE SEED OUT_FRAMES OUT_SUMMARY
using System;
using System.IO;
using MdTool.Dance;

static class LiveClientTests
{
    static int Main(string[] args)
    {
        var url = new Uri(args[0]);
        byte[] raw = File.ReadAllBytes(args[1]);
        var samples = new float[raw.Length / 4];
        Buffer.BlockCopy(raw, 0, samples, 0, raw.Length);
        int rate = int.Parse(args[2]), chunk = int.Parse(args[3]);
        using (var client = new LiveClient())
        {
            client.ConnectAsync(url, rate, 1, args[4], long.Parse(args[5]), null, 100, 100000).Wait();
            var piece = new float[chunk];
            for (int i = 0; i < samples.Length; i += chunk)
            {
                int n = Math.Min(chunk, samples.Length - i);
                Array.Copy(samples, i, piece, 0, n);
                while (!client.Enqueue(piece, n)) System.Threading.Thread.Sleep(1);
            }
            string summary = client.FinishAsync().Result;
            File.WriteAllText(args[7], summary);
            var frames = client.Frames;
            var pose = new Pose(frames.NumJoints);
            using (var output = new BinaryWriter(File.Create(args[6])))
            {
                for (int f = 0; f < frames.FramesReceived; f++)
                {
                    double t = f / 30.0;
                    frames.Sample(t, pose);
                    output.Write((float)t);
                    foreach (var v in pose.Root) output.Write(v);
                    foreach (var v in pose.Rotations) output.Write(v);
                }
            }
            Console.WriteLine("frames " + frames.FramesReceived + " beats " + frames.BeatsReceived + " tempo " + frames.TempoBpm);
        }
        return 0;
    }
}
