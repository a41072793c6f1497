using System.Globalization;

namespace ServerlessWs.Bench;

/// <summary>Resident memory and CPU time of server processes, read from /proc (Linux).</summary>
internal static class ServerStats
{
    private static readonly double ClockTicksPerSecond = 100.0;

    /// <summary>Sum of VmRSS over the processes, in KiB.</summary>
    public static double RssKiB(IEnumerable<int> pids) => pids.Sum(pid =>
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    });

    /// <summary>Sum of user and system CPU seconds over the processes.</summary>
    public static double CpuSeconds(IEnumerable<int> pids) => pids.Sum(pid =>
    {
        // Fields after the command name (which may contain spaces) start after the last ')'.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicksPerSecond;
    });

    /// <summary>This load tool's own CPU seconds, to see when the client rather than the server is the limit.</summary>
    public static double OwnCpuSeconds() => Environment.CpuUsage.TotalTime.TotalSeconds;
}
