export { type BuildInfo, buildInfo, versionLine } from "./version.js";
