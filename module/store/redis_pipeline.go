package store

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

const (
	// pipelineWorkers is how many pipelines may be in flight at once.
	pipelineWorkers = 4
	// maxPipeline bounds the commands sent in one pipeline.
	maxPipeline = 128
)

// autoPipeline sends the commands that callers issue concurrently in shared
// pipelines: a worker takes the first command waiting and every other one
// already queued, and sends them in one write, reading every reply in one
// go. An idle store adds no wait; a busy one saves a round trip, a write
// and a read per command, which on a small machine is most of what a
// command costs. Each command keeps its own reply and error.
type autoPipeline struct {
	client *redis.Client
	queue  chan queued
	done   sync.WaitGroup
}

// queued is a command and how its caller learns that it has been answered.
type queued struct {
	cmd      redis.Cmder
	answered chan struct{}
}

func newAutoPipeline(c *redis.Client) *autoPipeline {
	p := &autoPipeline{client: c, queue: make(chan queued, maxPipeline*pipelineWorkers)}
	for range pipelineWorkers {
		p.done.Go(p.run)
	}
	return p
}

// do sends cmds, in one pipeline if they arrive together, and returns the
// first command's error once all are answered, or ctx's error if it ends
// first (a command already sent may still run).
func (p *autoPipeline) do(ctx context.Context, cmds ...redis.Cmder) error {
	waits := make([]chan struct{}, len(cmds))
	for i, cmd := range cmds {
		waits[i] = make(chan struct{})
		select {
		case p.queue <- queued{cmd, waits[i]}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return cmds[0].Err()
}

// run sends batches until the queue is closed.
func (p *autoPipeline) run() {
	batch := make([]queued, 0, maxPipeline)
	for first := range p.queue {
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxPipeline {
			select {
			case q, ok := <-p.queue:
				if !ok {
					break more
				}
				batch = append(batch, q)
			default:
				break more
			}
		}
		pipe := p.client.Pipeline()
		for _, q := range batch {
			_ = pipe.Process(context.Background(), q.cmd)
		}
		// Each command holds its own reply or error; the connection's read
		// and write timeouts bound the wait.
		_, _ = pipe.Exec(context.Background())
		for _, q := range batch {
			close(q.answered)
		}
	}
}

// close stops the workers once the queued commands are answered. Nothing
// may be queued after it.
func (p *autoPipeline) close() {
	close(p.queue)
	p.done.Wait()
}

// luaScript is a Lua script sent by its SHA-1 (EVALSHA), and by its source
// (EVAL) when the server does not know it yet, as after a restart.
type luaScript struct {
	src, sha string
}

func newLuaScript(src string) *luaScript {
	sum := sha1.Sum([]byte(src))
	return &luaScript{src: src, sha: hex.EncodeToString(sum[:])}
}

// eval runs s with keys and args through the pipeline. Its error, or
// ctx's, is in the returned command.
func (r *Redis) eval(ctx context.Context, s *luaScript, keys []string, args ...any) *redis.Cmd {
	call := func(verb, script string) (*redis.Cmd, error) {
		a := append(make([]any, 0, 3+len(keys)+len(args)), verb, script, len(keys))
		for _, k := range keys {
			a = append(a, k)
		}
		cmd := redis.NewCmd(ctx, append(a, args...)...)
		return cmd, r.send(ctx, cmd)
	}
	cmd, err := call("evalsha", s.sha)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		cmd, _ = call("eval", s.src)
	}
	return cmd
}

// send sends cmds through the pipeline and returns the first one's error.
// If ctx ends first, every command not yet answered gets ctx's error.
func (r *Redis) send(ctx context.Context, cmds ...redis.Cmder) error {
	if err := r.pipe.do(ctx, cmds...); err != nil {
		if ctx.Err() != nil {
			for _, c := range cmds {
				if c.Err() == nil {
					c.SetErr(ctx.Err())
				}
			}
		}
		return err
	}
	return nil
}
