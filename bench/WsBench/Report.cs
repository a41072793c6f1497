using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ServerlessWs.Bench;

/// <summary>Renders the figures of both systems, measured in the same run, as ratios WsApp / baseline.</summary>
internal static class Report
{
    private const string Subject = "wsapp";
    private const string Baseline = "seed-node";

    // Figure, what it means, the target (as shown), and whether lower is better.
    private static readonly (string Key, string Label, string Target, bool LowerIsBetter)[] Rows =
    [
        ("memory.kib_per_connection", "memory per idle connection (KiB, after settle)", "<= 1.0x", true),
        ("memory.kib_per_connection_after_hold", "memory per idle connection (KiB, after the idle hold)", "<= 1.0x", true),
        ("connect.per_second", "connects per second (256 in flight)", ">= 1.0x", false),
        ("connect.failed", "failed connects", "0", true),
        ("idle.cpu_seconds", "server CPU seconds over the idle hold", "<= 1.0x", true),
        ("route.delivered_ratio", "route at 5,000 msg/s: delivered", "100%", false),
        ("route.p50_ms", "route: p50 latency (ms)", "<= 1 ms", true),
        ("route.p99_ms", "route: p99 latency (ms)", "<= 1.0x", true),
        ("route.p999_ms", "route: p99.9 latency (ms)", "", true),
        ("route.max_ms", "route: max latency (ms)", "", true),
        ("max.sustained_per_second", "highest sustained rate (msg/s)", ">= 1.0x", false),
        ("takeover.p99_ms", "takeover p99 (ms), WsApp only", "<= 20 ms", true),
        ("resume.p99_ms", "resume with 100 replayed p99 (ms), WsApp only", "<= 20 ms", true),
        ("fanout.last_member_p50_ms", "fanout, 1,000 members, 10 msg/s: last member has it, p50 (ms), WsApp only", "", true),
        ("fanout.last_member_p99_ms", "fanout: last member has it, p99 (ms), WsApp only", "<= 30 ms", true),
        ("fanout.delivery_p50_ms", "fanout: per-delivery p50 latency (ms), WsApp only", "", true),
        ("fanout.delivery_p99_ms", "fanout: per-delivery p99 latency (ms), WsApp only", "", true),
        ("fanout.delivered_ratio", "fanout: delivered (deliveries / messages x members), WsApp only", "100%", false),
        ("fanout.server_cpu_us_per_delivery", "fanout: WsApp CPU per delivery (µs), WsApp only", "<= 20 µs", true),
        ("fanout.redis_cpu_us_per_delivery", "fanout: redis-server CPU per delivery (µs), WsApp only", "<= 2 µs", true),
        ("broadcast.last_client_p50_ms", "broadcast to 10,000 clients, 2/s: last client has it, p50 (ms), WsApp only", "", true),
        ("broadcast.last_client_p99_ms", "broadcast: last client has it, p99 (ms), WsApp only", "<= 150 ms", true),
        ("broadcast.delivered_ratio", "broadcast: delivered (deliveries / broadcasts x clients), WsApp only", "100%", false),
        ("invoke.answered_ratio", "invoke at 1,000/s, handler answering at once: answered with its result, WsApp only", "100%", false),
        ("invoke.rtt_p50_ms", "invoke: round trip p50 (ms), WsApp only", "", true),
        ("invoke.rtt_p99_ms", "invoke: round trip p99 (ms), WsApp only", "", true),
        ("invoke.overhead_p99_ms", "invoke: round trip less the handler's own time, p99 (ms), WsApp only", "<= 2 ms", true),
        ("invoke.ping_p99_ms", "invoke run: a ping's round trip on the same sockets meanwhile, p99 (ms), WsApp only", "", true),
        ("event.send_ack_p99_ms", "event run, 5,000/s over two nodes: direct send's ack p99 (ms), WsApp only", "", true),
        ("event.accepted_p99_ms", "event: `accepted` ack p99 (ms), WsApp only", "", true),
        ("event.accepted_p99_over_send_p99", "event: accepted p99 / send ack p99 in the same run, WsApp only", "<= 1.2", true),
        ("event.accepted_ratio", "event: accepted (accepted / sent), WsApp only", "100%", false),
        ("dispatch.events_per_second", "dispatch: a 50,000-event backlog drained to a handler answering at once (events/s), WsApp only", ">= 5,000", false),
        ("dispatch.lost", "dispatch: accepted events the handler never heard, WsApp only", "0", true),
        ("dispatch.duplicates", "dispatch: calls that repeated a ce-id, WsApp only", "", true),
        ("scale.5000.rss_mib", "scale, one node: RSS (MiB) at 5,000 idle", "", true),
        ("scale.10000.rss_mib", "scale, one node: RSS (MiB) at 10,000 idle", "", true),
        ("scale.19000.rss_mib", "scale, one node: RSS (MiB) at 19,000 idle", "", true),
        ("scale.19000.kib_per_connection", "scale, one node: KiB per connection at 19,000", "", true),
        ("scale.5000.idle_cpu_seconds", "scale, one node: CPU seconds over the hold at 5,000", "", true),
        ("scale.10000.idle_cpu_seconds", "scale, one node: CPU seconds over the hold at 10,000", "", true),
        ("scale.19000.idle_cpu_seconds", "scale, one node: CPU seconds over the hold at 19,000", "", true),
        ("scale.19000.failed", "scale, one node: failed connects up to 19,000", "0", true),
        ("scale.projected_100k_rss_gib", "scale: RSS projected to 100,000 connections (GiB)", "", true),
        ("scale.projected_100k_idle_cpu_share", "scale: idle CPU projected to 100,000 connections (cores)", "", true),
        ("idle.loadtool_cpu_seconds", "load tool CPU seconds (idle run)", "", true),
        ("route.loadtool_cpu_seconds", "load tool CPU seconds (route run)", "", true),
        ("max.loadtool_cpu_seconds", "load tool CPU seconds (max run)", "", true),
        ("fanout.loadtool_cpu_seconds", "load tool CPU seconds (fanout run)", "", true),
        ("broadcast.loadtool_cpu_seconds", "load tool CPU seconds (broadcast run)", "", true),
        ("invoke.loadtool_cpu_seconds", "load tool CPU seconds (invoke run)", "", true),
        ("event.loadtool_cpu_seconds", "load tool CPU seconds (event run)", "", true),
    ];

    public static string Render(IEnumerable<FileInfo> files)
    {
        var figures = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal);
        foreach (var line in files.SelectMany(f => File.ReadLines(f.FullName)).Where(l => l.StartsWith('{')))
        {
            using var json = JsonDocument.Parse(line);
            var system = json.RootElement.GetProperty("system").GetString()!;
            var bag = figures.TryGetValue(system, out var existing) ? existing : figures[system] = new(StringComparer.Ordinal);
            foreach (var figure in json.RootElement.GetProperty("figures").EnumerateObject())
            {
                bag[figure.Name] = figure.Value.GetDouble();
            }
        }

        var table = new StringBuilder();
        table.AppendLine("| figure | WsApp | seed-node | WsApp / seed-node | target |");
        table.AppendLine("|---|---|---|---|---|");
        foreach (var (key, label, target, _) in Rows)
        {
            var subject = Value(figures, Subject, key);
            var baseline = Value(figures, Baseline, key);
            if (subject is null && baseline is null)
            {
                continue;
            }

            var ratio = subject is { } s && baseline is { } b && b != 0 ? $"{s / b:F2}x" : "-";
            table.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {Format(subject)} | {Format(baseline)} | {ratio} | {target} |");
        }

        return table.ToString();
    }

    private static double? Value(Dictionary<string, Dictionary<string, double>> figures, string system, string key) =>
        figures.TryGetValue(system, out var bag) && bag.TryGetValue(key, out var value) ? value : null;

    private static string Format(double? value) => value switch
    {
        null => "-",
        < 1 and > 0 => value.Value.ToString("0.###", CultureInfo.InvariantCulture),
        _ => value.Value.ToString("#,0.##", CultureInfo.InvariantCulture),
    };
}
