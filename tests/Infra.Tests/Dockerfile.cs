using System.Text.RegularExpressions;

namespace ServerlessWs.Infra.Tests;

/// <summary>What a Dockerfile says about the image it builds: the base images, and the last stage's port and user.</summary>
internal sealed partial record Dockerfile(IReadOnlyList<string> BaseImages, int? Port, string? User)
{
    /// <summary>Reads the Dockerfile of a service of azure.yaml (<c>project</c> + <c>docker.path</c>).</summary>
    public static Dockerfile OfService(string service)
    {
        var (project, path) = AzureYaml.DockerfileOf(service);
        return Parse(File.ReadAllLines(Repository.PathOf(project, path)));
    }

    public static Dockerfile Parse(IEnumerable<string> lines)
    {
        var images = new List<string>();
        int? exposed = null;
        int? configured = null;
        string? user = null;
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (From().Match(line) is { Success: true } from)
            {
                images.Add(from.Groups[1].Value);
                // Port and user are the last stage's: each FROM starts over.
                (exposed, configured, user) = (null, null, null);
            }
            else if (Expose().Match(line) is { Success: true } expose)
            {
                exposed = int.Parse(expose.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (UserLine().Match(line) is { Success: true } u)
            {
                user = u.Groups[1].Value;
            }

            if (PortSetting().Match(line) is { Success: true } setting)
            {
                configured = int.Parse(setting.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        if (exposed is not null && configured is not null && exposed != configured)
        {
            throw new InvalidOperationException($"The Dockerfile exposes {exposed} but the server is set to listen on {configured}.");
        }

        return new Dockerfile(images, configured ?? exposed, user);
    }

    [GeneratedRegex(@"^FROM\s+(\S+)", RegexOptions.IgnoreCase)]
    private static partial Regex From();

    [GeneratedRegex(@"^EXPOSE\s+(\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex Expose();

    [GeneratedRegex(@"^USER\s+(\S+)", RegexOptions.IgnoreCase)]
    private static partial Regex UserLine();

    /// <summary>ASP.NET Core's own port settings (the Functions host is ASP.NET Core too), in an ENV line.</summary>
    [GeneratedRegex(@"ASPNETCORE_(?:HTTP_PORTS=|URLS=https?://[^:\s]+:)(\d+)")]
    private static partial Regex PortSetting();
}

/// <summary>The little of azure.yaml these tests need, read line by line (its shape is checked by infra/check.sh).</summary>
internal static partial class AzureYaml
{
    public static (string Project, string DockerfilePath) DockerfileOf(string service)
    {
        string? current = null;
        string? project = null;
        foreach (var line in File.ReadLines(Repository.PathOf("azure.yaml")))
        {
            if (ServiceLine().Match(line) is { Success: true } s)
            {
                current = s.Groups[1].Value;
            }
            else if (current == service && ProjectLine().Match(line) is { Success: true } p)
            {
                project = p.Groups[1].Value;
            }
            else if (current == service && project is not null && PathLine().Match(line) is { Success: true } d)
            {
                return (project, d.Groups[1].Value);
            }
        }

        throw new InvalidOperationException($"azure.yaml has no service {service} with a project and a docker path.");
    }

    [GeneratedRegex(@"^  (\w+):\s*$")]
    private static partial Regex ServiceLine();

    [GeneratedRegex(@"^    project:\s*(\S+)")]
    private static partial Regex ProjectLine();

    [GeneratedRegex(@"^      path:\s*(\S+)")]
    private static partial Regex PathLine();
}
