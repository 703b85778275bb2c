// vllm: a stand-in for `vllm serve` on the test bed's real node (no GPU, no inference).
//
// It serves vLLM's HTTP surface for the Deployment vllm_deploy renders, unchanged: `vllm serve MODEL ARGS...`,
// OpenAI /v1/models, /v1/completions, /v1/chat/completions (also stream: true), /health, /version and
// /metrics with the metric names vLLM 0.33 (V1 engine) exports. Simulated: the tokens (canned words, one word =
// one token), the latencies (LLMOPS_SIM_TTFT_MS, LLMOPS_SIM_ITL_MS), the KV-cache usage (running/max-num-seqs)
// and the load time (LLMOPS_SIM_STARTUP_S). Real: the argument handling of the flags below, the API key
// (--api-key or VLLM_API_KEY, /v1 paths only, like vLLM), the request queue (at most --max-num-seqs run at
// once; the rest wait and show in vllm:num_requests_waiting), the context-length check (--max-model-len or
// config.json's max_position_embeddings when MODEL is a directory), and a clean drain on SIGTERM.
// Every other argument is accepted and logged as "accepted, not simulated"; none is silently changed.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const version = "0.33.0"

type config struct {
	model       string
	served      []string
	loras       []string
	host        string
	port        int
	apiKey      string
	maxModelLen int
	maxNumSeqs  int
	ttft        time.Duration
	itl         time.Duration
	startup     time.Duration
}

func usageExit(msg string) {
	fmt.Fprintf(os.Stderr, "usage: vllm serve [model_tag] [options]\nvllm serve: error: %s\n", msg)
	os.Exit(2)
}

func envMillis(name string, def int) time.Duration {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			log.Fatalf("%s=%q: want a whole number of milliseconds >= 0", name, v)
		}
		return time.Duration(n) * time.Millisecond
	}
	return time.Duration(def) * time.Millisecond
}

func parse(argv []string) config {
	if len(argv) < 1 || argv[0] != "serve" {
		usageExit(fmt.Sprintf("this image runs only `vllm serve MODEL ARGS...` (the test bed's simulator), got %q", argv))
	}
	c := config{host: "0.0.0.0", port: 8000, maxNumSeqs: 256, apiKey: os.Getenv("VLLM_API_KEY")}
	c.ttft = envMillis("LLMOPS_SIM_TTFT_MS", 20)
	c.itl = envMillis("LLMOPS_SIM_ITL_MS", 2)
	c.startup = envMillis("LLMOPS_SIM_STARTUP_S", 0) * 1000
	args := argv[1:]
	intFlag := func(name, v string) int {
		n, err := strconv.Atoi(v)
		if err != nil {
			usageExit(fmt.Sprintf("argument %s: invalid int value: '%s'", name, v))
		}
		return n
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			if c.model == "" {
				c.model = a
				continue
			}
			usageExit(fmt.Sprintf("unrecognized arguments: %s", a))
		}
		name, val, hasEq := strings.Cut(a, "=")
		var vals []string
		if hasEq {
			vals = []string{val}
		} else {
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
				vals = append(vals, args[i+1])
				i++
				if name != "--served-model-name" && name != "--lora-modules" {
					break
				}
			}
		}
		one := func() string {
			if len(vals) != 1 {
				usageExit(fmt.Sprintf("argument %s: expected one argument", name))
			}
			return vals[0]
		}
		switch name {
		case "--model":
			c.model = one()
		case "--served-model-name":
			if len(vals) == 0 {
				usageExit("argument --served-model-name: expected at least one argument")
			}
			c.served = vals
		case "--lora-modules":
			for _, v := range vals {
				n, _, _ := strings.Cut(v, "=")
				c.loras = append(c.loras, n)
			}
		case "--host":
			c.host = one()
		case "--port":
			c.port = intFlag(name, one())
		case "--api-key":
			c.apiKey = one()
		case "--max-model-len":
			v := one()
			if v != "-1" && v != "auto" {
				c.maxModelLen = intFlag(name, v)
			}
		case "--max-num-seqs":
			c.maxNumSeqs = intFlag(name, one())
		case "--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size":
			n := intFlag(name, one())
			log.Printf("%s %d: accepted, not simulated (no GPU; one process serves)", name, n)
		case "--max-num-batched-tokens", "--max-logprobs", "--seed", "--block-size", "--max-loras", "--max-lora-rank", "--max-cpu-loras":
			// int-typed in vLLM's argparse: a bad value exits 2 there too
			log.Printf("%s %d: accepted, not simulated", name, intFlag(name, one()))
		default:
			log.Printf("%s %s: accepted, not simulated", name, strings.Join(vals, " "))
		}
	}
	if c.model == "" {
		usageExit("the following arguments are required: model_tag")
	}
	if c.maxNumSeqs < 1 {
		usageExit("argument --max-num-seqs: must be >= 1")
	}
	if len(c.served) == 0 {
		c.served = []string{c.model}
	}
	return c
}

// modelLen reads config.json when MODEL is a local directory, as vLLM does; a missing one is fatal there too.
func modelLen(c *config) {
	if !strings.HasPrefix(c.model, "/") && !strings.HasPrefix(c.model, ".") {
		log.Printf("model %s: a hub id; no weights are read (simulated)", c.model)
		if c.maxModelLen == 0 {
			c.maxModelLen = 32768
		}
		return
	}
	raw, err := os.ReadFile(filepath.Join(c.model, "config.json"))
	if err != nil {
		log.Fatalf("model %s: cannot read config.json: %v (vLLM fails the same way)", c.model, err)
	}
	var hf struct {
		MaxPos    int      `json:"max_position_embeddings"`
		Archs     []string `json:"architectures"`
		ModelType string   `json:"model_type"`
	}
	if err := json.Unmarshal(raw, &hf); err != nil {
		log.Fatalf("model %s: config.json is not JSON: %v", c.model, err)
	}
	log.Printf("model %s: config.json model_type=%s architectures=%v max_position_embeddings=%d", c.model, hf.ModelType, hf.Archs, hf.MaxPos)
	if c.maxModelLen == 0 {
		c.maxModelLen = hf.MaxPos
	} else if hf.MaxPos > 0 && c.maxModelLen > hf.MaxPos {
		log.Fatalf("User-specified max_model_len (%d) is greater than the derived max_model_len (max_position_embeddings=%d in config.json)", c.maxModelLen, hf.MaxPos)
	}
	if c.maxModelLen == 0 {
		c.maxModelLen = 32768
	}
}

type histogram struct {
	bounds []float64
	counts []uint64
	sum    float64
	n      uint64
}

func newHist(b ...float64) *histogram { return &histogram{bounds: b, counts: make([]uint64, len(b))} }

func (h *histogram) observe(v float64) {
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
		}
	}
	h.sum += v
	h.n++
}

type server struct {
	c        config
	slots    chan struct{}
	mu       sync.Mutex
	running  int
	waiting  int
	success  map[string]uint64
	prompt   uint64
	gen      uint64
	seen     map[string]bool // prompts served before: their full blocks count as prefix-cache hits
	pfxQuery uint64
	pfxHit   uint64
	hists    map[string]*histogram
	helpText map[string]string
	created  int64
}

func newServer(c config) *server {
	lat := []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	req := []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
	itl := []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	tok := []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000}
	return &server{
		c: c, slots: make(chan struct{}, c.maxNumSeqs), success: map[string]uint64{}, seen: map[string]bool{}, created: time.Now().Unix(),
		hists: map[string]*histogram{
			"vllm:time_to_first_token_seconds":    newHist(lat...),
			"vllm:inter_token_latency_seconds":    newHist(itl...),
			"vllm:e2e_request_latency_seconds":    newHist(req...),
			"vllm:request_queue_time_seconds":     newHist(req...),
			"vllm:request_inference_time_seconds": newHist(req...),
			"vllm:request_prompt_tokens":          newHist(tok...),
			"vllm:request_generation_tokens":      newHist(tok...),
		},
		helpText: map[string]string{
			"vllm:time_to_first_token_seconds":    "Histogram of time to first token in seconds.",
			"vllm:inter_token_latency_seconds":    "Histogram of inter-token latency in seconds.",
			"vllm:e2e_request_latency_seconds":    "Histogram of e2e request latency in seconds.",
			"vllm:request_queue_time_seconds":     "Histogram of time spent in WAITING phase for request.",
			"vllm:request_inference_time_seconds": "Histogram of time spent in RUNNING phase for request.",
			"vllm:request_prompt_tokens":          "Number of prefill tokens processed.",
			"vllm:request_generation_tokens":      "Number of generation tokens processed.",
		},
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

func (s *server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.c.apiKey != "" && strings.HasPrefix(r.URL.Path, "/v1") {
			want := "Bearer " + s.c.apiKey
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) known(model string) bool {
	for _, n := range append(append([]string{}, s.c.served...), s.c.loras...) {
		if n == model {
			return true
		}
	}
	return false
}

func (s *server) models(w http.ResponseWriter, _ *http.Request) {
	data := []map[string]any{}
	for _, n := range s.c.served {
		data = append(data, map[string]any{"id": n, "object": "model", "created": s.created, "owned_by": "vllm", "root": s.c.model, "parent": nil, "max_model_len": s.c.maxModelLen})
	}
	for _, n := range s.c.loras {
		data = append(data, map[string]any{"id": n, "object": "model", "created": s.created, "owned_by": "vllm", "root": n, "parent": s.c.served[0]})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

var canned = strings.Fields("This answer comes from the llmops test bed's vLLM simulator: no model ran and these tokens are canned, but the request travelled the real path.")

type genRequest struct {
	Model    string `json:"model"`
	Prompt   any    `json:"prompt"`
	Messages []struct {
		Role    string `json:"role"`
		Content any    `json:"content"`
	} `json:"messages"`
	MaxTokens           *int `json:"max_tokens"`
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	Stream              bool `json:"stream"`
}

func countWords(v any) int {
	switch t := v.(type) {
	case string:
		return len(strings.Fields(t))
	case []any:
		n := 0
		for _, x := range t {
			n += countWords(x)
		}
		return n
	case map[string]any:
		return countWords(t["text"])
	}
	return 0
}

func (s *server) generate(chat bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			apiError(w, http.StatusMethodNotAllowed, "BadRequestError", "use POST")
			return
		}
		var req genRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil {
			apiError(w, http.StatusBadRequest, "BadRequestError", "invalid JSON body: "+err.Error())
			return
		}
		if !s.known(req.Model) {
			apiError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", req.Model))
			return
		}
		promptTokens := 0
		if chat {
			for _, m := range req.Messages {
				promptTokens += countWords(m.Content) + 4
			}
		} else {
			promptTokens = countWords(req.Prompt)
		}
		promptTokens = max(promptTokens, 1)
		promptKey := fmt.Sprint(req.Prompt)
		if chat {
			for _, m := range req.Messages {
				promptKey += "\x00" + m.Role + "\x00" + fmt.Sprint(m.Content)
			}
		}
		maxTokens := 16
		if req.MaxCompletionTokens != nil {
			maxTokens = *req.MaxCompletionTokens
		} else if req.MaxTokens != nil {
			maxTokens = *req.MaxTokens
		} else if chat {
			maxTokens = len(canned)
		}
		if maxTokens < 1 {
			apiError(w, http.StatusBadRequest, "BadRequestError", fmt.Sprintf("max_tokens must be at least 1, got %d.", maxTokens))
			return
		}
		if promptTokens+maxTokens > s.c.maxModelLen {
			apiError(w, http.StatusBadRequest, "BadRequestError", fmt.Sprintf(
				"This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion).",
				s.c.maxModelLen, promptTokens+maxTokens, promptTokens, maxTokens))
			return
		}
		arrived := time.Now()
		s.mu.Lock()
		s.waiting++
		s.mu.Unlock()
		select {
		case s.slots <- struct{}{}:
		case <-r.Context().Done():
			s.mu.Lock()
			s.waiting--
			s.mu.Unlock()
			return
		}
		started := time.Now()
		s.mu.Lock()
		s.waiting--
		s.running++
		s.mu.Unlock()
		defer func() {
			<-s.slots
			s.mu.Lock()
			s.running--
			s.mu.Unlock()
		}()

		id := fmt.Sprintf("%s-%d", map[bool]string{true: "chatcmpl", false: "cmpl"}[chat], time.Now().UnixNano())
		object := map[bool]string{true: "chat.completion", false: "text_completion"}[chat]
		var flusher http.Flusher
		if req.Stream {
			flusher, _ = w.(http.Flusher)
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
		}
		var words []string
		var firstTok time.Time
		for i := 0; i < maxTokens; i++ {
			if i == 0 {
				time.Sleep(s.c.ttft)
				firstTok = time.Now()
			} else {
				time.Sleep(s.c.itl)
			}
			tok := canned[i%len(canned)]
			words = append(words, tok)
			if req.Stream {
				text := tok
				if i > 0 {
					text = " " + tok
				}
				var choice map[string]any
				if chat {
					choice = map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": text}, "finish_reason": nil}
				} else {
					choice = map[string]any{"index": 0, "text": text, "finish_reason": nil}
				}
				b, _ := json.Marshal(map[string]any{"id": id, "object": object + ".chunk", "created": arrived.Unix(), "model": req.Model, "choices": []any{choice}})
				fmt.Fprintf(w, "data: %s\n\n", b)
				if flusher != nil {
					flusher.Flush()
				}
			}
		}
		done := time.Now()
		s.record(arrived, started, firstTok, done, promptTokens, maxTokens, promptKey)
		usage := map[string]int{"prompt_tokens": promptTokens, "completion_tokens": maxTokens, "total_tokens": promptTokens + maxTokens}
		text := strings.Join(words, " ")
		if req.Stream {
			b, _ := json.Marshal(map[string]any{"id": id, "object": object + ".chunk", "created": arrived.Unix(), "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "finish_reason": "length", "text": "", "delta": map[string]any{}}}, "usage": usage})
			fmt.Fprintf(w, "data: %s\n\ndata: [DONE]\n\n", b)
			return
		}
		var choice map[string]any
		if chat {
			choice = map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "length", "logprobs": nil}
		} else {
			choice = map[string]any{"index": 0, "text": text, "finish_reason": "length", "logprobs": nil}
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": object, "created": arrived.Unix(), "model": req.Model, "choices": []any{choice}, "usage": usage})
	}
}

func (s *server) record(arrived, started, first, done time.Time, prompt, gen int, promptKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.success["length"]++
	s.prompt += uint64(prompt)
	// vLLM counts prompt tokens looked up in the prefix cache and those found (whole 16-token blocks); here a
	// prompt seen before hits in full blocks, a new one misses (bounded memory: the set resets at 10000)
	s.pfxQuery += uint64(prompt)
	if s.seen[promptKey] {
		s.pfxHit += uint64(prompt - prompt%16)
	} else {
		if len(s.seen) >= 10000 {
			s.seen = map[string]bool{}
		}
		s.seen[promptKey] = true
	}
	s.gen += uint64(gen)
	s.hists["vllm:time_to_first_token_seconds"].observe(first.Sub(arrived).Seconds())
	if gen > 1 {
		perTok := done.Sub(first).Seconds() / float64(gen-1)
		for i := 1; i < gen; i++ {
			s.hists["vllm:inter_token_latency_seconds"].observe(perTok)
		}
	}
	s.hists["vllm:e2e_request_latency_seconds"].observe(done.Sub(arrived).Seconds())
	s.hists["vllm:request_queue_time_seconds"].observe(started.Sub(arrived).Seconds())
	s.hists["vllm:request_inference_time_seconds"].observe(done.Sub(started).Seconds())
	s.hists["vllm:request_prompt_tokens"].observe(float64(prompt))
	s.hists["vllm:request_generation_tokens"].observe(float64(gen))
}

func fmtFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (s *server) metrics(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lbl := fmt.Sprintf(`engine="0",model_name=%q`, s.c.served[0])
	var b strings.Builder
	metric := func(name, typ, help string, lines ...string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	metric("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", fmt.Sprintf("vllm:num_requests_running{%s} %d", lbl, s.running))
	metric("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", fmt.Sprintf("vllm:num_requests_waiting{%s} %d", lbl, s.waiting))
	metric("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.",
		fmt.Sprintf("vllm:kv_cache_usage_perc{%s} %s", lbl, fmtFloat(float64(s.running)/float64(s.c.maxNumSeqs))))
	metric("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.", fmt.Sprintf("vllm:num_preemptions_total{%s} 0", lbl))
	metric("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", fmt.Sprintf("vllm:prompt_tokens_total{%s} %d", lbl, s.prompt))
	metric("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", fmt.Sprintf("vllm:generation_tokens_total{%s} %d", lbl, s.gen))
	metric("vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.",
		fmt.Sprintf("vllm:prefix_cache_queries_total{%s} %d", lbl, s.pfxQuery))
	metric("vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.",
		fmt.Sprintf("vllm:prefix_cache_hits_total{%s} %d", lbl, s.pfxHit))
	var succ []string
	for _, reason := range []string{"abort", "length", "stop"} {
		succ = append(succ, fmt.Sprintf("vllm:request_success_total{%s,finished_reason=%q} %d", lbl, reason, s.success[reason]))
	}
	metric("vllm:request_success_total", "counter", "Count of successfully processed requests.", succ...)
	names := make([]string, 0, len(s.hists))
	for n := range s.hists {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		h := s.hists[n]
		var lines []string
		for i, bound := range h.bounds {
			lines = append(lines, fmt.Sprintf("%s_bucket{%s,le=%q} %d", n, lbl, fmtFloat(bound), h.counts[i]))
		}
		lines = append(lines, fmt.Sprintf("%s_bucket{%s,le=\"+Inf\"} %d", n, lbl, h.n),
			fmt.Sprintf("%s_count{%s} %d", n, lbl, h.n), fmt.Sprintf("%s_sum{%s} %s", n, lbl, fmtFloat(h.sum)))
		metric(n, "histogram", s.helpText[n], lines...)
	}
	metric("vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig",
		fmt.Sprintf(`vllm:cache_config_info{engine="0",block_size="16",cache_dtype="auto",enable_prefix_caching="True",num_gpu_blocks="0",simulated="true"} 1`))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.SetPrefix("(APIServer) INFO ")
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) != "vllm" && len(args) > 0 && args[0] == "vllm" {
		args = args[1:]
	}
	if len(args) == 1 && (args[0] == "--version" || args[0] == "version") {
		fmt.Println(version)
		return
	}
	c := parse(args)
	modelLen(&c)
	log.Printf("vLLM API server version %s (llmops test-bed simulator: no GPU, no inference)", version)
	log.Printf("model=%s served_model_name=%v lora=%v max_model_len=%d max_num_seqs=%d api_key=%t",
		c.model, c.served, c.loras, c.maxModelLen, c.maxNumSeqs, c.apiKey != "")
	if c.startup > 0 {
		log.Printf("simulating a load time of %s before listening", c.startup)
		time.Sleep(c.startup)
	}
	s := newServer(c)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/ping", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": version})
	})
	mux.HandleFunc("/metrics", s.metrics)
	mux.HandleFunc("/v1/models", s.models)
	mux.HandleFunc("/v1/completions", s.generate(false))
	mux.HandleFunc("/v1/chat/completions", s.generate(true))
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	srv := &http.Server{Addr: addr, Handler: s.auth(mux), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("listen %s: %v", addr, err)
	}
	log.Printf("Starting vLLM API server on http://%s", addr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sig := <-stop
		log.Printf("%s: draining in-flight requests, then exiting", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
	<-drained
	log.Printf("Shutting down: done")
}
