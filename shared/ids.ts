/** Identifier formats the project validates before anything reaches an AWS API. */

/** AWS region names: "us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-7"… */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** AWS account ids are exactly 12 ASCII digits (Organizations `AccountId` pattern `^\d{12}$`). */
export const ACCOUNT_ID_PATTERN = /^[0-9]{12}$/;
