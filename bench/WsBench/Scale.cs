using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace ServerlessWs.Bench;

/// <summary>
/// The scale scenario (WsApp only): as many idle connections on one node as the machine allows. A process may hold
/// at most 20,000 open files here, so the clients are spread over child processes of this tool (<c>hold</c>),
/// each holding a share until the parent closes its stdin. RSS and idle CPU are read at each step.
/// </summary>
internal static class Scale
{
    public static async Task<Figures> RunAsync(Target target, int[] steps, int perProcess, TimeSpan settle, TimeSpan hold, CancellationToken cancellationToken)
    {
        var figures = new Figures();
        var rssBefore = ServerStats.RssKiB(target.ServerPids);
        var holders = new List<Process>();
        var held = 0;
        try
        {
            // Each holder outlives every step, bounded even if this process dies without closing its stdin.
            var maxHold = (settle + hold + TimeSpan.FromMinutes(2)) * steps.Length;
            var refused = false;
            var last = 0;
            foreach (var step in steps.TakeWhile(_ => !refused))
            {
                while (held < step && !refused)
                {
                    var share = Math.Min(perProcess, step - held);
                    var connected = await StartHolderAsync(target, share, maxHold, holders, cancellationToken);
                    held += connected;
                    figures[$"scale.{step}.failed"] = figures.GetValueOrDefault($"scale.{step}.failed") + (share - connected);
                    // The node refused or dropped some: this is as far as it goes, this step is the last.
                    refused = connected < share;
                }

                await Task.Delay(settle, cancellationToken);
                var rss = ServerStats.RssKiB(target.ServerPids);
                var cpuBefore = ServerStats.CpuSeconds(target.ServerPids);
                await Progress.WaitAsync($"scale hold at {held:N0}", hold, cancellationToken);
                figures[$"scale.{step}.connections"] = held;
                figures[$"scale.{step}.rss_mib"] = rss / 1024;
                figures[$"scale.{step}.kib_per_connection"] = (rss - rssBefore) / Math.Max(1, held);
                figures[$"scale.{step}.idle_cpu_seconds"] = ServerStats.CpuSeconds(target.ServerPids) - cpuBefore;
                last = step;
            }

            // Per-connection cost at the largest step measured, projected: the node's base plus 100,000 times that cost.
            figures["scale.projected_100k_rss_gib"] = (rssBefore + (100_000 * figures[$"scale.{last}.kib_per_connection"])) / (1024 * 1024);
            figures["scale.projected_100k_idle_cpu_share"] = figures[$"scale.{last}.idle_cpu_seconds"] / hold.TotalSeconds * 100_000 / Math.Max(1, held);
        }
        finally
        {
            foreach (var holder in holders)
            {
                holder.StandardInput.Close();
            }

            foreach (var holder in holders)
            {
                if (!holder.WaitForExit(TimeSpan.FromSeconds(30)))
                {
                    holder.Kill();
                }

                holder.Dispose();
            }
        }

        return figures;
    }

    /// <summary>The child's side: connects, prints one JSON line, holds until stdin closes or the bound passes.</summary>
    public static async Task<Figures> HoldAsync(Target target, int connections, TimeSpan maxHold, CancellationToken cancellationToken)
    {
        var (clients, failed, _) = await Scenarios.ConnectManyAsync(target, "scale", connections, 256, null, cancellationToken);
        Console.WriteLine(JsonSerializer.Serialize(new { connected = clients.Count, failed }));
        var stdinClosed = Console.In.ReadToEndAsync(cancellationToken);
        await Task.WhenAny(stdinClosed, Task.Delay(maxHold, cancellationToken));
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        return new Figures { ["hold.connected"] = clients.Count, ["hold.failed"] = failed };
    }

    /// <summary>Starts a holder process (added to <paramref name="holders"/> at once, so it is always stopped) and returns how many it connected.</summary>
    private static async Task<int> StartHolderAsync(Target target, int connections, TimeSpan maxHold, List<Process> holders, CancellationToken cancellationToken)
    {
        // The same build of this tool, as `dotnet WsBench.dll` (it may be running inside another host, e.g. a test).
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(Scale).Assembly.Location);
        foreach (var argument in new[]
        {
            "hold", "--system", target.System, "--urls", string.Join(',', target.Urls),
            "--connections", connections.ToString(CultureInfo.InvariantCulture),
            "--hold-seconds", ((int)maxHold.TotalSeconds).ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(argument);
        }

        var holder = Process.Start(start)!;
        holders.Add(holder);
        holder.ErrorDataReceived += (_, _) => { }; // its progress display is not ours to show
        holder.BeginErrorReadLine();
        var line = await holder.StandardOutput.ReadLineAsync(cancellationToken)
            ?? throw new InvalidOperationException("a holder process ended before it connected");
        using var json = JsonDocument.Parse(line);
        return json.RootElement.GetProperty("connected").GetInt32();
    }
}
