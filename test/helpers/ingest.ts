import { randomBytes } from "node:crypto";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { accountRefFor, IngestService } from "../../src/records/ingest.js";
import { openStores, type Stores } from "../../src/store/index.js";
import { HmacSubjectTokenizer, type SubjectTokens } from "../../src/subject/tokenizer.js";
import { tempDir } from "./temp.js";

export interface IngestFixture {
  ingest: IngestService;
  stores: Stores;
  refOf(accountId: string): string;
  close(): Promise<void>;
}

/** An IngestService on stores in a temporary directory; close() removes them. */
export async function openIngest(opts: { prefix: string; now: string; tokenizer?: SubjectTokens }): Promise<IngestFixture> {
  const tmp = tempDir(opts.prefix);
  const stores = await openStores(tmp.dir, { dataKeys: [{ id: "k1", key: randomBytes(32) }] });
  const accountRefKey = randomBytes(32);
  const ingest = new IngestService(
    { accountRefKey },
    { store: stores.records, tokenizer: opts.tokenizer ?? new HmacSubjectTokenizer(Buffer.alloc(32, 7)), sealer: stores.cipher, clock: new ManualClock(opts.now), logger: silentLogger() },
  );
  return {
    ingest,
    stores,
    refOf: (accountId) => accountRefFor(accountRefKey, accountId),
    close: async () => {
      await stores.close();
      tmp.remove();
    },
  };
}
