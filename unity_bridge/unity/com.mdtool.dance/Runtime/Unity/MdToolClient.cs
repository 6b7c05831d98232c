// Client for the mdtool runtime service (mdtool serve; API in docs/runtime.md and
// docs/runtime-openapi.json). Coroutine style: each call is an IEnumerator to pass to
// StartCoroutine, reporting through callbacks on the main thread.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using UnityEngine;
using UnityEngine.Networking;

namespace MdTool.Dance
{
    [Serializable]
    public class ChoreographOptions
    {
        public string Style = "";
        public long Seed = 0;
        public double Fps = 30.0;
        public string Decoder = "viterbi";
        public bool ReuseSections = true;
        public string SongName = "";
    }

    /// <summary>One ranked phrase for a slot (POST /v1/alternatives).</summary>
    public sealed class AlternativeRow
    {
        public string PhraseId;
        public double Score, Emission, PriorIn, PriorOut;
        public bool Current;
    }

    public sealed class MdToolClient
    {
        public string BaseUrl;
        public string Token;
        public int TimeoutSeconds = 120;

        public MdToolClient(string baseUrl = "http://127.0.0.1:8765", string token = null)
        {
            BaseUrl = baseUrl.TrimEnd('/');
            Token = token;
        }

        public IEnumerator Version(Action<Dictionary<string, object>> done, Action<string> failed)
        {
            return Send("GET", "/v1/version", null, null,
                bytes => done(JsonRead.Object(MiniJson.Parse(Encoding.UTF8.GetString(bytes)), "version")), failed);
        }

        /// <summary>POST a song file's bytes (wav, mp3, ogg, flac): the timeline and its JSON.</summary>
        public IEnumerator Choreograph(byte[] audio, ChoreographOptions options, Action<DanceTimeline, string> done, Action<string> failed)
        {
            options = options ?? new ChoreographOptions();
            var query = new StringBuilder("/v1/choreograph?seed=").Append(options.Seed.ToString(CultureInfo.InvariantCulture));
            query.Append("&fps=").Append(options.Fps.ToString("R", CultureInfo.InvariantCulture));
            query.Append("&decoder=").Append(Uri.EscapeDataString(options.Decoder));
            query.Append("&reuse_sections=").Append(options.ReuseSections ? "true" : "false");
            if (!string.IsNullOrEmpty(options.Style)) query.Append("&style=").Append(Uri.EscapeDataString(options.Style));
            if (!string.IsNullOrEmpty(options.SongName)) query.Append("&name=").Append(Uri.EscapeDataString(options.SongName));
            return Send("POST", query.ToString(), audio, "application/octet-stream", bytes => TimelineResult(bytes, done), failed);
        }

        /// <summary>Choreograph an AudioClip (its samples are sent as 16-bit WAV).</summary>
        public IEnumerator Choreograph(AudioClip clip, ChoreographOptions options, Action<DanceTimeline, string> done, Action<string> failed)
        {
            var samples = new float[clip.samples * clip.channels];
            if (!clip.GetData(samples, 0))
            {
                failed("cannot read the clip's samples (load type must be Decompress On Load)");
                return Empty();
            }
            return Choreograph(WavWriter.Encode(samples, clip.channels, clip.frequency), options, done, failed);
        }

        public IEnumerator Alternatives(string timelineJson, int slot, int topK, Action<List<AlternativeRow>> done, Action<string> failed)
        {
            string body = "{\"timeline\": " + timelineJson + ", \"slot\": " + slot + ", \"top_k\": " + topK + "}";
            return Send("POST", "/v1/alternatives", Encoding.UTF8.GetBytes(body), "application/json", bytes =>
            {
                var d = JsonRead.Object(MiniJson.Parse(Encoding.UTF8.GetString(bytes)), "alternatives");
                var rows = new List<AlternativeRow>();
                foreach (object item in JsonRead.Array(d["alternatives"], "alternatives"))
                {
                    var r = JsonRead.Object(item, "alternative");
                    rows.Add(new AlternativeRow
                    {
                        PhraseId = JsonRead.Text(r["phrase_id"], "phrase_id"),
                        Score = JsonRead.Number(r["score"], "score"),
                        Emission = JsonRead.Number(r["emission"], "emission"),
                        PriorIn = JsonRead.Number(r["prior_in"], "prior_in"),
                        PriorOut = JsonRead.Number(r["prior_out"], "prior_out"),
                        Current = r["current"] is bool && (bool)r["current"],
                    });
                }
                done(rows);
            }, failed);
        }

        public IEnumerator Replace(string timelineJson, int slot, string phraseId, Action<DanceTimeline, string> done, Action<string> failed)
        {
            string body = "{\"timeline\": " + timelineJson + ", \"slot\": " + slot + ", \"phrase_id\": " +
                          MiniJson.Serialize(phraseId) + "}";
            return Send("POST", "/v1/replace", Encoding.UTF8.GetBytes(body), "application/json", bytes => TimelineResult(bytes, done), failed);
        }

        /// <summary>The rendered dance as a pose track, ready for <see cref="PoseSampler"/>.</summary>
        public IEnumerator Bake(string timelineJson, Action<PoseTrack> done, Action<string> failed)
        {
            string body = "{\"timeline\": " + timelineJson + "}";
            return Send("POST", "/v1/bake", Encoding.UTF8.GetBytes(body), "application/json", bytes => done(PoseTrack.Read(bytes)), failed);
        }

        /// <summary>A conductor for a song (POST /v1/conduct): the song file's bytes in, a pose
        /// track out that <see cref="DancePlayer.SetTrack"/> plays in sync with the song.
        /// <paramref name="method"/> is "procedural" (the default when empty: the textbook conductor) or "gan" (the trained M2S-GAN, which conducts worse).</summary>
        public IEnumerator Conduct(byte[] audio, long seed, string method, Action<PoseTrack> done, Action<string> failed)
        {
            var query = new StringBuilder("/v1/conduct?seed=").Append(seed.ToString(CultureInfo.InvariantCulture));
            query.Append("&method=").Append(Uri.EscapeDataString(string.IsNullOrEmpty(method) ? "procedural" : method));
            return Send("POST", query.ToString(), audio, "application/octet-stream", bytes => done(PoseTrack.Read(bytes)), failed);
        }

        /// <summary>Conduct an AudioClip (its samples are sent as 16-bit WAV).</summary>
        public IEnumerator Conduct(AudioClip clip, long seed, string method, Action<PoseTrack> done, Action<string> failed)
        {
            var samples = new float[clip.samples * clip.channels];
            if (!clip.GetData(samples, 0))
            {
                failed("cannot read the clip's samples (load type must be Decompress On Load)");
                return Empty();
            }
            return Conduct(WavWriter.Encode(samples, clip.channels, clip.frequency), seed, method, done, failed);
        }

        /// <summary>The dance as .glb bytes (import with glTFast or UnityGLTF, or save it).</summary>
        public IEnumerator RenderGlb(string timelineJson, Action<byte[]> done, Action<string> failed)
        {
            string body = "{\"timeline\": " + timelineJson + "}";
            return Send("POST", "/v1/render.glb", Encoding.UTF8.GetBytes(body), "application/json", done, failed);
        }

        /// <summary>Choreograph a group: the group timeline and its JSON.</summary>
        public IEnumerator ChoreographGroup(byte[] audio, int dancers, string formation, int lead, ChoreographOptions options,
                                            Action<GroupTimeline, string> done, Action<string> failed)
        {
            options = options ?? new ChoreographOptions();
            var query = new StringBuilder("/v1/group/choreograph?dancers=").Append(dancers.ToString(CultureInfo.InvariantCulture));
            query.Append("&lead=").Append(lead.ToString(CultureInfo.InvariantCulture));
            query.Append("&formation=").Append(Uri.EscapeDataString(string.IsNullOrEmpty(formation) ? "auto" : formation));
            query.Append("&seed=").Append(options.Seed.ToString(CultureInfo.InvariantCulture));
            query.Append("&fps=").Append(options.Fps.ToString("R", CultureInfo.InvariantCulture));
            query.Append("&reuse_sections=").Append(options.ReuseSections ? "true" : "false");
            if (!string.IsNullOrEmpty(options.Style)) query.Append("&style=").Append(Uri.EscapeDataString(options.Style));
            if (!string.IsNullOrEmpty(options.SongName)) query.Append("&name=").Append(Uri.EscapeDataString(options.SongName));
            return Send("POST", query.ToString(), audio, "application/octet-stream", bytes =>
            {
                var d = JsonRead.Object(MiniJson.Parse(Encoding.UTF8.GetString(bytes)), "response");
                object group = JsonRead.Field(d, "group_timeline", "response");
                done(GroupTimeline.FromObject(group), MiniJson.Serialize(group));
            }, failed);
        }

        /// <summary>A group's distinct dances and spot paths, ready for <see cref="GroupSampler"/>.</summary>
        public IEnumerator BakeGroup(string groupTimelineJson, Action<GroupBake> done, Action<string> failed)
        {
            string body = "{\"group_timeline\": " + groupTimelineJson + "}";
            return Send("POST", "/v1/group/bake", Encoding.UTF8.GetBytes(body), "application/json",
                        bytes => done(GroupBake.Parse(Encoding.UTF8.GetString(bytes))), failed);
        }

        static void TimelineResult(byte[] bytes, Action<DanceTimeline, string> done)
        {
            var d = JsonRead.Object(MiniJson.Parse(Encoding.UTF8.GetString(bytes)), "response");
            object timeline = JsonRead.Field(d, "timeline", "response");
            var parsed = DanceTimeline.FromObject(timeline);
            done(parsed, MiniJson.Serialize(timeline));
        }

        static IEnumerator Empty() { yield break; }

        IEnumerator Send(string method, string path, byte[] body, string contentType, Action<byte[]> done, Action<string> failed)
        {
            using (var request = new UnityWebRequest(BaseUrl + path, method))
            {
                request.downloadHandler = new DownloadHandlerBuffer();
                if (body != null)
                {
                    request.uploadHandler = new UploadHandlerRaw(body);
                    request.SetRequestHeader("Content-Type", contentType);
                }
                if (!string.IsNullOrEmpty(Token)) request.SetRequestHeader("Authorization", "Bearer " + Token);
                request.timeout = TimeoutSeconds;
                yield return request.SendWebRequest();
                if (request.result != UnityWebRequest.Result.Success)
                {
                    failed(ErrorMessage(request));
                    yield break;
                }
                try { done(request.downloadHandler.data); }
                catch (DanceFormatException e) { failed("unexpected answer from the service: " + e.Message); }
            }
        }

        static string ErrorMessage(UnityWebRequest request)
        {
            // the service answers {"error": {"status", "message"}}
            try
            {
                var text = request.downloadHandler != null ? request.downloadHandler.text : null;
                if (!string.IsNullOrEmpty(text))
                {
                    var d = JsonRead.Object(MiniJson.Parse(text), "error");
                    var e = JsonRead.Object(d["error"], "error");
                    return request.responseCode + ": " + JsonRead.Text(e["message"], "message");
                }
            }
            catch (Exception) { }
            return request.responseCode + ": " + request.error;
        }
    }
}
