// Group playback without Unity: parses a group timeline and the service's group bake, samples
// every dancer and compares with the Python runtime's GroupSampler (expected.json), within
// 1e-4. Usage: mono GroupTests.exe GOLDEN_FOLDER
using System;
using System.IO;
using MdTool.Dance;

public static class GroupTests
{
    public static int Main(string[] args)
    {
        string folder = args[0];
        int passed = 0, failed = 0;
        var group = GroupTimeline.Parse(File.ReadAllText(Path.Combine(folder, "group.timeline.json")));
        var bake = GroupBake.Parse(File.ReadAllText(Path.Combine(folder, "group.bake.json")));
        var expected = JsonRead.Object(MiniJson.Parse(File.ReadAllText(Path.Combine(folder, "expected.json"))), "expected");
        Check(group.NumDancers == bake.NumDancers, "dancers in timeline and bake", ref passed, ref failed);
        Check(group.Sections.Count > 0 && group.Sections[group.Sections.Count - 1].StopSlot == group.Base.Slots.Count,
              "sections cover the slots", ref passed, ref failed);
        int leads = 0;
        foreach (var d in group.Dancers) if (d.Lead) leads++;
        Check(leads == 1, "one lead", ref passed, ref failed);
        var sampler = new GroupSampler(bake);
        var pose = sampler.NewPose();
        var times = JsonRead.Array(expected["times_s"], "times");
        var roots = JsonRead.Array(expected["root_positions_m"], "roots");
        var rotations = JsonRead.Array(expected["rotations"], "rotations");
        double worst = 0;
        for (int k = 0; k < sampler.NumDancers; k++)
        {
            var rootRows = JsonRead.Array(roots[k], "root rows");
            var rotRows = JsonRead.Array(rotations[k], "rotation rows");
            for (int i = 0; i < times.Count; i++)
            {
                sampler.Sample(k, JsonRead.Number(times[i], "time"), pose);
                var root = JsonRead.Array(rootRows[i], "root");
                for (int c = 0; c < 3; c++)
                    worst = Math.Max(worst, Math.Abs(pose.Root[c] - JsonRead.Number(root[c], "root")));
                var joints = JsonRead.Array(rotRows[i], "joints");
                for (int j = 0; j < joints.Count; j++)
                {
                    var q = JsonRead.Array(joints[j], "quat");
                    double same = 0, flipped = 0;
                    for (int c = 0; c < 4; c++)
                    {
                        double want = JsonRead.Number(q[c], "q");
                        same = Math.Max(same, Math.Abs(pose.Rotations[j * 4 + c] - want));
                        flipped = Math.Max(flipped, Math.Abs(pose.Rotations[j * 4 + c] + want));
                    }
                    worst = Math.Max(worst, Math.Min(same, flipped));
                }
            }
        }
        Check(worst < 1e-4, "poses equal the Python runtime's (worst " + worst.ToString("G3") + ")", ref passed, ref failed);
        Check(GroupTimeline.Parse(group.ToJson()).NumDancers == group.NumDancers, "round trip", ref passed, ref failed);
        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }

    static void Check(bool ok, string what, ref int passed, ref int failed)
    {
        if (ok) { passed++; Console.WriteLine("ok   " + what); }
        else { failed++; Console.WriteLine("FAIL " + what); }
    }
}
