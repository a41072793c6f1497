using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ServerlessWs.Chaos.Tests.Reporting;

/// <summary>
/// Collects each scenario's figures as JSON in one folder and renders them as a markdown table,
/// <c>reliability.md</c>. The folder is <c>CHAOS_REPORT_DIR</c> when set, else <c>reliability/</c> next to the
/// test assembly. With <c>CHAOS_UPDATE_DOC</c> set to the path of docs/reliability.md, the table also replaces the
/// one between that page's reliability markers: that is how the page's table is generated.
/// </summary>
public static class ReliabilityReport
{
    private const string Begin = "<!-- reliability:begin -->";
    private const string End = "<!-- reliability:end -->";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private static readonly Lock Gate = new();

    public static string Directory =>
        Environment.GetEnvironmentVariable("CHAOS_REPORT_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(AppContext.BaseDirectory, "reliability");

    /// <summary>Saves one scenario's figures and rewrites <c>reliability.md</c> from every scenario saved so far.</summary>
    public static void Record(ScenarioFigures figures)
    {
        lock (Gate)
        {
            System.IO.Directory.CreateDirectory(Directory);
            File.WriteAllText(Path.Combine(Directory, Slug(figures.Scenario) + ".json"), JsonSerializer.Serialize(figures, Json));
            var all = System.IO.Directory.GetFiles(Directory, "*.json")
                .Select(path => JsonSerializer.Deserialize<ScenarioFigures>(File.ReadAllText(path), Json)!)
                .OrderBy(f => f.Scenario, StringComparer.Ordinal);
            var table = Render(all);
            File.WriteAllText(Path.Combine(Directory, "reliability.md"), table);
            if (Environment.GetEnvironmentVariable("CHAOS_UPDATE_DOC") is { Length: > 0 } page)
            {
                UpdateDocument(page, table);
            }
        }
    }

    public static string Render(IEnumerable<ScenarioFigures> scenarios)
    {
        var table = new StringBuilder()
            .AppendLine("| scenario | clients | sent | received | lost | duplicated | out of order | violations | cleanup | inputs tried | documented answers | what it did |")
            .AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var f in scenarios)
        {
            table.Append(CultureInfo.InvariantCulture,
                $"| {f.Scenario} | {N(f.Clients)} | {N(f.Sent)} | {N(f.Received)} | {N(f.Lost)} | {N(f.Duplicated)} | {N(f.OutOfOrder)} | {N(f.Violations)} | ");
            table.Append(f.CleanupTime is { } t ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.0} s") : "–");
            table.Append(CultureInfo.InvariantCulture, $" | {N(f.InputsTried)} | {N(f.DocumentedAnswers)} | {f.Notes ?? string.Empty} |").AppendLine();
        }

        return table.ToString();
    }

    private static void UpdateDocument(string path, string table)
    {
        var text = File.ReadAllText(path);
        var begin = text.IndexOf(Begin, StringComparison.Ordinal);
        var end = text.IndexOf(End, StringComparison.Ordinal);
        if (begin < 0 || end < begin)
        {
            throw new InvalidOperationException($"{path} has no {Begin} … {End} block to replace.");
        }

        var machine = string.Create(CultureInfo.InvariantCulture,
            $"Generated {DateTime.UtcNow:yyyy-MM-dd} by the {(ChaosSettings.LongVariant ? "long" : "short")} variant on {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 30} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}.");
        File.WriteAllText(path, text[..(begin + Begin.Length)] + "\n" + machine + "\n\n" + table + text[end..]);
    }

    private static string N(long? value) => value?.ToString("N0", CultureInfo.InvariantCulture) ?? "–";

    private static string Slug(string scenario) =>
        new(scenario.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());
}
