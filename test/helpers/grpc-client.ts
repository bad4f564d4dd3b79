export { NodeClient as TestClient } from "../../src/testnet/node-client.js";
