/**
 * A real SQS-protocol server on loopback (`local-aws-sqs`) with the stack's queues, created with the
 * attributes `serverless.yml` declares: redrive, visibility, retention, delays.
 */

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { createSqsServer } from "local-aws-sqs";
import type { QueueDefinition } from "./stack.ts";

export interface LocalSqs {
  readonly endpoint: string;
  readonly client: SQSClient;
  /** Queue URL by logical id (`OnboardingQueue`, `RetryQueue`, `DeadLetterQueue`). */
  readonly urls: Readonly<Record<string, string>>;
  readonly arns: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/** Credentials the local servers accept; they are never checked, but the SDK signs every request. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
export const LOCAL_REGION = "us-east-1";

export async function startLocalSqs(
  queues: readonly QueueDefinition[],
  overrides: Readonly<Record<string, string>> = {},
  prefix = "guardduty-onboarding-local",
): Promise<LocalSqs> {
  const server: Server = await createSqsServer({
    port: 0,
    hostname: "127.0.0.1",
    region: LOCAL_REGION,
    emulateQueueCreationLifecycle: false,
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const urls: Record<string, string> = {};
  const arns: Record<string, string> = {};
  // Redrive targets first: a RedrivePolicy must name an existing queue.
  const ordered = [...queues].sort(
    (a, b) => Number(a.redrive !== undefined) - Number(b.redrive !== undefined),
  );
  for (const queue of ordered) {
    const attributes: Record<string, string> = { ...queue.attributes };
    for (const [key, value] of Object.entries(overrides)) if (key in attributes) attributes[key] = value;
    if (queue.redrive) {
      const target = arns[queue.redrive.target];
      if (!target)
        throw new Error(`${queue.name}: redrive target ${queue.redrive.target} is not a queue of the stack`);
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: target,
        maxReceiveCount: queue.redrive.maxReceiveCount,
      });
    }
    const kebab = queue.name
      .replace(/Queue$/, "")
      .replace(/([a-z])([A-Z])/g, "$1-$2")
      .toLowerCase();
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({ QueueName: `${prefix}-${kebab}`, Attributes: attributes }),
    );
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    urls[queue.name] = QueueUrl as string;
    arns[queue.name] = Attributes?.QueueArn as string;
  }
  return {
    endpoint,
    client,
    urls,
    arns,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
