using System.Collections.Concurrent;
using System.Diagnostics;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Telemetry;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Functions.Tests;

/// <summary>An admin send and its delivery on the owner node (through Redis) are spans of one trace.</summary>
public sealed class TracingTests
{
    [Fact]
    public async Task AnAdminSendAndItsDeliveryAreParentAndChildInOneTrace()
    {
        var clientId = $"traced-{Guid.NewGuid():N}";
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == WsMetrics.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var client = await TestClient.ConnectAsync(node, $"clientId={clientId}");

        await f.Messages.SendToClient(FunctionsHarness.Request("POST", "\"traced\""), clientId);
        await client.ReceiveAsync();

        await Eventually.TrueAsync(() => spans.Any(s => s.OperationName == "ws.deliver" && (string?)s.GetTagItem("ws.client_id") == clientId));
        var send = Assert.Single(spans, s => s.OperationName == "ws.send" && (string?)s.GetTagItem("ws.to") == clientId);
        var deliver = Assert.Single(spans, s => s.OperationName == "ws.deliver" && (string?)s.GetTagItem("ws.client_id") == clientId);
        Assert.Equal(ActivityKind.Producer, send.Kind);
        Assert.Equal(ActivityKind.Consumer, deliver.Kind);
        Assert.Equal(send.TraceId, deliver.TraceId);
        Assert.Equal(send.SpanId, deliver.ParentSpanId);
        Assert.Equal("delivered", send.GetTagItem("ws.outcome"));
    }
}
