// 16-bit PCM WAV bytes from float samples (a player's song, e.g. an AudioClip's data) for
// POST /v1/choreograph.
using System;
using System.IO;
using System.Text;

namespace MdTool.Dance
{
    public static class WavWriter
    {
        /// <summary>Interleaved samples in [-1, 1] to a 16-bit PCM WAV file's bytes.</summary>
        public static byte[] Encode(float[] interleaved, int channels, int sampleRate)
        {
            if (channels < 1 || sampleRate < 1) throw new ArgumentException("channels and sample rate must be positive");
            using (var stream = new MemoryStream(44 + interleaved.Length * 2))
            using (var w = new BinaryWriter(stream))
            {
                int dataBytes = interleaved.Length * 2;
                w.Write(Encoding.ASCII.GetBytes("RIFF"));
                w.Write(36 + dataBytes);
                w.Write(Encoding.ASCII.GetBytes("WAVEfmt "));
                w.Write(16);
                w.Write((short)1);
                w.Write((short)channels);
                w.Write(sampleRate);
                w.Write(sampleRate * channels * 2);
                w.Write((short)(channels * 2));
                w.Write((short)16);
                w.Write(Encoding.ASCII.GetBytes("data"));
                w.Write(dataBytes);
                foreach (float s in interleaved)
                {
                    float c = s > 1f ? 1f : (s < -1f ? -1f : s);
                    w.Write((short)Math.Round(c * 32767f));
                }
                w.Flush();
                return stream.ToArray();
            }
        }
    }
}
