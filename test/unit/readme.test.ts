import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { reasonTableMarkdown } from "#shared/classify";

describe("README", () => {
  it("documents exactly the reason codes the classification tables decide (npm run reasons)", () => {
    const readme = readFileSync("README.md", "utf8");
    const documented = readme.split("<!-- reasons:begin -->")[1]?.split("<!-- reasons:end -->")[0]?.trim();

    expect(documented).toBe(reasonTableMarkdown());
  });
});
