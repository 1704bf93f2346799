import type { Context } from "aws-lambda";

/** A Lambda context with a deadline, as the runtime hands it to the handler. */
export function lambdaContext(timeoutMs = 60_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "guardduty-onboarding-test-onboard",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:111111111111:function:guardduty-onboarding-test-onboard",
    memoryLimitInMB: "256",
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: "/aws/lambda/guardduty-onboarding-test-onboard",
    logStreamName: "2026/11/26/[$LATEST]test",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
