// Checks a CreditMesh log with Go's sumdb note and tlog packages, an
// implementation independent of the node's: the checkpoint's signature
// (vkey), the tiles against the signed root, and the inclusion of one entry
// both by a proof the node generated and by one built here from the tiles.
//
// usage: tlog-verify BASE_URL VKEY INDEX [PROOF_HEX,...]
package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type httpTiles struct{ base string }

func get(url string) []byte {
	resp, err := http.Get(url)
	must(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(err)
	if resp.StatusCode != 200 {
		fail("GET %s: %s", url, resp.Status)
	}
	return body
}

// C2SP paths drop sumdb's tile height segment and call the data tiles "entries".
func (r httpTiles) path(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	return r.base + "/tile/" + strings.Replace(p, "data/", "entries/", 1)
}
func (r httpTiles) Height() int                     { return 8 }
func (r httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}
func (r httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		out[i] = get(r.path(t))
	}
	return out, nil
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: tlog-verify BASE_URL VKEY INDEX [PROOF_HEX,...]")
	}
	base, index := os.Args[1], os.Args[3]
	verifier, err := note.NewVerifier(os.Args[2])
	must(err)
	n, err := note.Open(get(base+"/checkpoint"), note.VerifierList(verifier))
	must(err)
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	must(err)
	root, err := base64.StdEncoding.DecodeString(lines[2])
	must(err)
	var tree tlog.Tree
	tree.N = size
	copy(tree.Hash[:], root)
	tiles := httpTiles{base}
	reader := tlog.TileHashReader(tree, tiles)
	th, err := tlog.TreeHash(size, reader)
	must(err)
	if th != tree.Hash {
		fail("tiles give root %v, checkpoint says %v", th, tree.Hash)
	}
	i, err := strconv.ParseInt(index, 10, 64)
	must(err)
	bundle := tlog.Tile{H: 8, L: -1, N: i / 256, W: 256}
	if (bundle.N+1)*256 > size {
		bundle.W = int(size % 256)
	}
	data := get(tiles.path(bundle))
	for k := int64(0); k < i%256; k++ {
		data = data[2+int(data[0])<<8+int(data[1]):]
	}
	leaf := tlog.RecordHash(data[2 : 2+int(data[0])<<8+int(data[1])])
	proof, err := tlog.ProveRecord(size, i, reader)
	must(err)
	must(tlog.CheckRecord(proof, size, tree.Hash, i, leaf))
	if len(os.Args) > 4 {
		var given tlog.RecordProof
		for _, h := range strings.Split(os.Args[4], ",") {
			b, err := hex.DecodeString(h)
			must(err)
			var x tlog.Hash
			copy(x[:], b)
			given = append(given, x)
		}
		must(tlog.CheckRecord(given, size, tree.Hash, i, leaf))
	}
	fmt.Printf("OK %s size=%d leaf=%d\n", verifier.Name(), size, i)
}

func must(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
	os.Exit(1)
}
