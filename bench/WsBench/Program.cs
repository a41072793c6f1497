using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ServerlessWs.Bench;

// WsBench: the load tool of bench/run.sh. Each scenario prints one JSON line of figures on stdout; `report`
// turns the lines of both systems into the comparison table.
var system = new Option<string>("--system") { Description = "Name of the system under test (wsapp, seed-node)", Required = true };
var urls = new Option<string>("--urls") { Description = "Comma-separated WebSocket URLs of the servers (loopback only)", Required = true };
var pids = new Option<string>("--pids") { Description = "Comma-separated process ids of the servers", DefaultValueFactory = _ => string.Empty };
var connections = new Option<int>("--connections") { DefaultValueFactory = _ => 10_000 };
var inFlight = new Option<int>("--in-flight") { DefaultValueFactory = _ => 256 };
var settle = new Option<int>("--settle-seconds") { DefaultValueFactory = _ => 5 };
var hold = new Option<int>("--hold-seconds") { DefaultValueFactory = _ => 60 };
var pairs = new Option<int>("--pairs") { DefaultValueFactory = _ => 500 };
var rate = new Option<int>("--rate") { DefaultValueFactory = _ => 5_000 };
var duration = new Option<int>("--duration-seconds") { DefaultValueFactory = _ => 20 };
var rates = new Option<string>("--rates") { DefaultValueFactory = _ => "5000,10000,20000,40000,80000" };
var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 100 };
var steps = new Option<string>("--steps") { DefaultValueFactory = _ => "5000,10000,19000" };
var perProcess = new Option<int>("--per-process") { DefaultValueFactory = _ => 5_000 };
var members = new Option<int>("--members") { DefaultValueFactory = _ => 1_000 };
// The fan-out scenarios send far fewer messages than route does: each reaches every member or every client.
var groupRate = new Option<int>("--rate") { DefaultValueFactory = _ => 10 };
var broadcastRate = new Option<double>("--rate") { DefaultValueFactory = _ => 2 };
var broadcastDuration = new Option<int>("--duration-seconds") { DefaultValueFactory = _ => 10 };
var redis = new Option<string>("--redis") { Description = "Redis connection string the admin-style sender uses (loopback only)", Required = true };
var redisPid = new Option<int>("--redis-pid") { Description = "Process id of redis-server, for its CPU per delivery (0: not measured)", DefaultValueFactory = _ => 0 };

var root = new RootCommand("ServerlessWs benchmark load tool");
Command Scenario(string name, string description, Func<ParseResult, Target, CancellationToken, Task<Figures>> run, params Option[] options)
{
    var command = new Command(name, description) { system, urls, pids };
    foreach (var option in options)
    {
        command.Options.Add(option);
    }

    command.SetAction(async (result, cancellationToken) =>
    {
        var target = new Target(
            result.GetValue(system)!,
            result.GetValue(urls)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(u => new Uri(u)).ToList(),
            result.GetValue(pids)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList());
        if (target.Urls.Any(u => !u.IsLoopback))
        {
            Console.Error.WriteLine("Only loopback servers may be benchmarked.");
            return 2;
        }

        var cpuBefore = ServerStats.OwnCpuSeconds();
        var figures = await run(result, target, cancellationToken);
        figures[$"{name}.loadtool_cpu_seconds"] = ServerStats.OwnCpuSeconds() - cpuBefore;
        Console.WriteLine(JsonSerializer.Serialize(new { system = target.System, scenario = name, figures }));
        return 0;
    });
    return command;
}

root.Subcommands.Add(Scenario("idle", "connect, memory and idle CPU with N connections", (r, t, ct) =>
    Scenarios.IdleAsync(t, r.GetValue(connections), r.GetValue(inFlight), TimeSpan.FromSeconds(r.GetValue(settle)), TimeSpan.FromSeconds(r.GetValue(hold)), ct),
    connections, inFlight, settle, hold));
root.Subcommands.Add(Scenario("route", "pairs across the two servers at a fixed rate", (r, t, ct) =>
    Scenarios.RouteAsync(t, r.GetValue(pairs), r.GetValue(rate), TimeSpan.FromSeconds(r.GetValue(duration)), ct),
    pairs, rate, duration));
root.Subcommands.Add(Scenario("max", "the highest rate with 99% delivered and p99 <= 250 ms", (r, t, ct) =>
    Scenarios.MaxAsync(t, r.GetValue(pairs), r.GetValue(rates)!.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray(), TimeSpan.FromSeconds(r.GetValue(duration)), ct),
    pairs, rates, duration));
root.Subcommands.Add(Scenario("takeover", "WsApp: resume on the other server until 4000 and the new welcome", (r, t, ct) =>
    Scenarios.TakeoverAsync(t, r.GetValue(rounds), ct), rounds));
root.Subcommands.Add(Scenario("resume", "WsApp: resume with 100 missed messages replayed", (r, t, ct) =>
    Scenarios.ResumeAsync(t, r.GetValue(rounds), 100, ct), rounds));
root.Subcommands.Add(Scenario("fanout", "WsApp: one group's members over the two servers, a non-member sending group messages at a fixed rate", (r, t, ct) =>
    Fanout.GroupAsync(t, r.GetValue(members), r.GetValue(groupRate), TimeSpan.FromSeconds(r.GetValue(duration)), r.GetValue(redisPid), ct),
    members, groupRate, duration, redisPid));
root.Subcommands.Add(Scenario("broadcast", "WsApp: N clients over the two servers, admin-style broadcasts (group *) at a fixed rate", (r, t, ct) =>
    Fanout.BroadcastAsync(t, r.GetValue(redis)!, r.GetValue(connections), r.GetValue(broadcastRate), TimeSpan.FromSeconds(r.GetValue(broadcastDuration)), r.GetValue(redisPid), ct),
    connections, broadcastRate, broadcastDuration, redis, redisPid));
var handlerPort = new Option<int>("--handler-port") { Description = "Loopback port of the upstream handler this tool hosts (the servers' Upstream:Url)", DefaultValueFactory = _ => 5210 };
var clients = new Option<int>("--clients") { DefaultValueFactory = _ => 200 };
var invokeRate = new Option<int>("--rate") { DefaultValueFactory = _ => 1_000 };
root.Subcommands.Add(Scenario("invoke", "WsApp: clients over the two servers invoke a handler that answers at once, at a fixed rate", (r, t, ct) =>
    Upstream.InvokeAsync(t, r.GetValue(handlerPort), r.GetValue(clients), r.GetValue(invokeRate), TimeSpan.FromSeconds(r.GetValue(duration)), ct),
    handlerPort, clients, invokeRate, duration));
var eventClients = new Option<int>("--clients") { DefaultValueFactory = _ => 500 };
var eventRate = new Option<int>("--rate") { DefaultValueFactory = _ => 5_000 };
root.Subcommands.Add(Scenario("event", "WsApp: direct sends, then durable events, at the same rate over the two servers: ack round trips", (r, t, ct) =>
    Upstream.EventAsync(t, r.GetValue(eventClients), r.GetValue(eventRate), TimeSpan.FromSeconds(r.GetValue(duration)), ct),
    eventClients, eventRate, duration));
var dispatcher = new Option<string>("--dispatcher") { Description = "Path of DispatcherHost.dll (the WsFunctions dispatcher in a plain host)", Required = true };
var backlog = new Option<int>("--backlog") { DefaultValueFactory = _ => 50_000 };
var dispatchLimit = new Option<int>("--limit-seconds") { DefaultValueFactory = _ => 120 };
root.Subcommands.Add(Scenario("dispatch", "WsApp: a backlog of events, then the dispatcher drains it to a handler that answers at once", (r, t, ct) =>
    Upstream.DispatchAsync(t, r.GetValue(handlerPort), r.GetValue(redis)!, r.GetValue(dispatcher)!, r.GetValue(backlog), TimeSpan.FromSeconds(r.GetValue(dispatchLimit)), ct),
    handlerPort, redis, dispatcher, backlog, dispatchLimit));
root.Subcommands.Add(Scenario("scale", "WsApp: idle connections on one node in steps, over several client processes", (r, t, ct) =>
    Scale.RunAsync(t, r.GetValue(steps)!.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray(), r.GetValue(perProcess),
        TimeSpan.FromSeconds(r.GetValue(settle)), TimeSpan.FromSeconds(r.GetValue(hold)), ct),
    steps, perProcess, settle, hold));
root.Subcommands.Add(Scenario("hold", "(used by scale) hold N connections until stdin closes", (r, t, ct) =>
    Scale.HoldAsync(t, r.GetValue(connections), TimeSpan.FromSeconds(r.GetValue(hold)), ct),
    connections, hold));

var results = new Argument<FileInfo[]>("results") { Description = "JSON lines written by the scenarios" };
var report = new Command("report", "the comparison table (markdown) of WsApp against the baseline") { results };
report.SetAction(result =>
{
    Console.Write(Report.Render(result.GetValue(results)!));
    return 0;
});
root.Subcommands.Add(report);

return await root.Parse(args).InvokeAsync();
