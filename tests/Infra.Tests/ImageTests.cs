using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessWs.Infra.Tests;

/// <summary>The images build with the SDK the repository is tested with, so a remote build cannot fail alone.</summary>
public sealed partial class ImageTests
{
    public static TheoryData<string> Services => new() { "wsapp", "wsfunctions" };

    [Theory]
    [MemberData(nameof(Services))]
    public void TheSdkImageIsTheFeatureBandOfGlobalJson(string service)
    {
        var sdk = JsonNode.Parse(Repository.Read("global.json"))!["sdk"]!;
        var pinned = Version.Parse((string)sdk["version"]!);
        var images = Dockerfile.OfService(service).BaseImages;

        var build = Assert.Single(images, i => i.StartsWith("mcr.microsoft.com/dotnet/sdk:", StringComparison.Ordinal));
        var tag = ExactVersion().Match(build[(build.IndexOf(':', StringComparison.Ordinal) + 1)..]);
        Assert.True(tag.Success, $"{build} is not an exact SDK version");
        var version = Version.Parse(tag.Value);
        Assert.Equal((pinned.Major, pinned.Minor, pinned.Build / 100), (version.Major, version.Minor, version.Build / 100));
        Assert.True(version >= pinned, $"{build} is older than global.json's {pinned}");
    }

    [Fact]
    public void TheWsAppRuntimeImageIsAnExactVersion()
    {
        var runtime = Assert.Single(Dockerfile.OfService("wsapp").BaseImages, i => i.StartsWith("mcr.microsoft.com/dotnet/aspnet:", StringComparison.Ordinal));

        Assert.Matches(@":\d+\.\d+\.\d+$", runtime);
    }

    /// <summary>
    /// The image restores and builds from what its Dockerfile copies: every project the service's project references,
    /// transitively (WsCore, and the ServerlessWs.Client library WsCore signs with), is copied, its csproj before the
    /// restore and its sources before the publish. A reference added without its COPY lines builds here and fails only
    /// in the remote image build.
    /// </summary>
    [Theory]
    [MemberData(nameof(Services))]
    public void TheDockerfileCopiesEveryProjectTheServiceBuildsFrom(string service)
    {
        var (project, path) = AzureYaml.DockerfileOf(service);
        var lines = File.ReadAllLines(Repository.PathOf(project, path)).Select(l => l.Trim()).ToList();
        var restore = lines.FindIndex(l => l.StartsWith("RUN dotnet restore", StringComparison.Ordinal));
        var publish = lines.FindIndex(l => l.StartsWith("RUN dotnet publish", StringComparison.Ordinal));
        Assert.True(restore >= 0 && publish > restore, $"{path} of {service} has no restore then publish");

        var directories = ProjectsOf(Path.GetFullPath(Repository.PathOf(project)))
            .Select(d => Path.GetRelativePath(Repository.Root, d).Replace('\\', '/'))
            .ToArray();
        Assert.Contains("WsCore", directories);
        foreach (var directory in directories)
        {
            var name = Path.GetFileName(directory);
            var csproj = lines.IndexOf($"COPY {directory}/{name}.csproj {directory}/");
            var sources = lines.IndexOf($"COPY {directory}/ {directory}/");
            Assert.True(csproj >= 0 && csproj < restore, $"{service}: the Dockerfile must copy {directory}/{name}.csproj before the restore");
            Assert.True(sources > restore && sources < publish, $"{service}: the Dockerfile must copy {directory}/ before the publish");
        }
    }

    /// <summary>The directory of <paramref name="projectDirectory"/>'s project and of every project it references, transitively.</summary>
    private static HashSet<string> ProjectsOf(string projectDirectory, HashSet<string>? seen = null)
    {
        seen ??= [];
        if (!seen.Add(projectDirectory))
        {
            return seen;
        }

        var csproj = Directory.GetFiles(projectDirectory, "*.csproj").Single();
        foreach (var reference in System.Xml.Linq.XDocument.Load(csproj).Descendants("ProjectReference"))
        {
            var referenced = Path.GetFullPath(Path.Combine(projectDirectory, reference.Attribute("Include")!.Value.Replace('\\', '/')));
            ProjectsOf(Path.GetDirectoryName(referenced)!, seen);
        }

        return seen;
    }

    [GeneratedRegex(@"^\d+\.\d+\.\d+$")]
    private static partial Regex ExactVersion();
}
