using System.Reflection;

namespace ServerlessWs.Infra.Tests;

/// <summary>Paths in the repository and what the build told this assembly (the bicep binary, the configuration).</summary>
internal static class Repository
{
    public static readonly string Root = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(PathOf(parts));

    /// <summary>An <c>AssemblyMetadata</c> item of Infra.Tests.csproj.</summary>
    public static string BuildValue(string key) =>
        typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"Infra.Tests was built without the {key} metadata.");

    /// <summary>The <c>functions.metadata</c> the WsFunctions build wrote (Infra.Tests builds WsFunctions first).</summary>
    public static string FunctionsMetadataPath()
    {
        var path = PathOf("WsFunctions", "bin", BuildValue("Configuration"), "net10.0", "functions.metadata");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"No {path}: build WsFunctions ({BuildValue("Configuration")}) first; Infra.Tests references it so that a build of this project does.");
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ServerlessWs.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ServerlessWs.sln not found above the test assembly.");
    }
}
