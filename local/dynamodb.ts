/**
 * A real DynamoDB-protocol server on loopback (`dynalite`, in memory) with the stack's tables, created
 * as serverless.yml declares them (keys, billing mode).
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./sqs.ts";

export interface TableDefinition {
  /** The CloudFormation logical id, e.g. `AccountDirectoryTable`. */
  readonly name: string;
  /** The table's CloudFormation properties (TableName, KeySchema, AttributeDefinitions, BillingMode…). */
  readonly properties: Readonly<Record<string, unknown>>;
}

export interface LocalDynamo {
  readonly endpoint: string;
  /** Table name by logical id. */
  readonly tables: Readonly<Record<string, string>>;
  readonly arns: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

export async function startLocalDynamo(
  tables: readonly TableDefinition[],
  accountId: string,
  prefix = "guardduty-onboarding-local",
): Promise<LocalDynamo> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const names: Record<string, string> = {};
  const arns: Record<string, string> = {};
  for (const { name, properties } of tables) {
    const kebab = name
      .replace(/Table$/, "")
      .replace(/([a-z])([A-Z])/g, "$1-$2")
      .toLowerCase();
    const TableName = `${prefix}-${kebab}`;
    const { KeySchema, AttributeDefinitions, BillingMode } = properties as unknown as CreateTableCommandInput;
    await client.send(new CreateTableCommand({ TableName, KeySchema, AttributeDefinitions, BillingMode }));
    names[name] = TableName;
    arns[name] = `arn:aws:dynamodb:${LOCAL_REGION}:${accountId}:table/${TableName}`;
  }
  client.destroy();
  return {
    endpoint,
    tables: names,
    arns,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
