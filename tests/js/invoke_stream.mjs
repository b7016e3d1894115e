// InvokeWithResponseStream with the AWS SDK for JavaScript v3: prints one JSON line per
// event as it arrives, with the moment it arrived (ms since the epoch).
// Usage: node invoke_stream.mjs <endpoint> <function name> <payload JSON>
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
import { LambdaClient, InvokeWithResponseStreamCommand } from "@aws-sdk/client-lambda";

const [endpoint, functionName, payload] = process.argv.slice(2);
const client = new LambdaClient({ endpoint, region: process.env.AWS_REGION || "us-east-1" });
const response = await client.send(
  new InvokeWithResponseStreamCommand({
    FunctionName: functionName,
    Payload: Buffer.from(payload),
    LogType: "Tail",
  })
);
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");
print({
  kind: "response",
  statusCode: response.StatusCode,
  executedVersion: response.ExecutedVersion,
  contentType: response.ResponseStreamContentType,
});
for await (const event of response.EventStream) {
  const at = Date.now();
  if (event.PayloadChunk) {
    print({ kind: "chunk", at, data: Buffer.from(event.PayloadChunk.Payload).toString() });
  } else if (event.InvokeComplete) {
    print({ kind: "complete", at, ...event.InvokeComplete });
  }
}
