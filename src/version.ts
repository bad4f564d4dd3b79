import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** The package version, reported by GetNodeStatus and `creditmesh --version`. */
export const NODE_VERSION: string = (require("../package.json") as { version: string }).version;
