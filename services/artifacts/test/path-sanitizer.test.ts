import { describe, expect, it } from "vitest";
import { checkStoredPath, DEFAULT_ARTIFACT_PATH, sanitizeArtifactPath } from "../src/path-sanitizer.js";

describe("sanitizeArtifactPath", () => {
  it.each([
    ["absolute", "/etc/passwd"],
    ["dot-dot alone", ".."],
    ["dot-dot first", "../x"],
    ["dot-dot in the middle", "a/../../x"],
    ["dot-dot last", "a/.."],
    ["encoded dot-dot", "%2e%2e/x"],
    ["encoded upper-case dot-dot", "%2E%2E/x"],
    ["encoded slash", "..%2fx"],
    ["double-encoded dot-dot", "%252e%252e/x"],
    ["encoded absolute", "%2fetc/passwd"],
    ["NUL", "a\u0000b"],
    ["encoded NUL", "a%00b"],
    ["backslash dot-dot", "..\\x"],
    ["backslash inside", "a\\..\\x"],
    ["encoded backslash", "..%5cx"],
    ["dot slash dot-dot", "./../x"],
    ["dot segment", "./x"],
    ["empty segment", "a//b"],
    ["trailing slash", "a/"],
    ["control character", "a\nb"],
    ["drive letter", "C:/x"],
    ["very long segment", "a".repeat(201)],
    ["very long path", "abcdefgh/".repeat(120) + "x"],
  ])("refuses %s", (_label, path) => {
    expect(() => sanitizeArtifactPath(path)).toThrow(/artifact path refused/);
  });

  it.each([
    ["agentlab-artifacts.tar.gz"],
    ["logs/agent.log"],
    ["a/b/c/report.json"],
    [".hidden"],
    ["name with spaces.txt"],
    ["100%.txt"],
    ["x..y"],
    ["a".repeat(200)],
  ])("accepts %s unchanged", (path) => {
    expect(sanitizeArtifactPath(path)).toBe(path);
  });

  it("maps an empty path to the bundle", () => {
    expect(sanitizeArtifactPath("")).toBe(DEFAULT_ARTIFACT_PATH);
  });

  it("checks stored paths belong to the job", () => {
    expect(checkStoredPath("job_1/a.txt.0123", "job_1")).toBe("job_1/a.txt.0123");
    expect(() => checkStoredPath("job_2/a.txt", "job_1")).toThrow(/does not belong/);
    expect(() => checkStoredPath("job_1/../job_2/a", "job_1")).toThrow(/refused/);
    expect(() => checkStoredPath("job_1", "job_1")).toThrow(/does not belong/);
  });
});
