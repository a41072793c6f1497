namespace ServerlessWs.Tests.Infrastructure;

/// <summary>Paths in this repository, found from the test output (the folder that holds ServerlessWs.sln).</summary>
public static class RepositoryPaths
{
    public static readonly string Root = FindRoot();

    public static string Of(params string[] parts) => Path.Combine([Root, .. parts]);

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
