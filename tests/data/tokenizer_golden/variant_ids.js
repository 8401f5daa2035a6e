// Expected ids of a tokenizer.json variant (variants.json) from an implementation that is not ours:
// transformers.js (@lenml/tokenizers 3.7.2) loading the base tokenizer.json of @lenml/tokenizer-NAME with the
// variant's pre_tokenizer (and normalizer, when it has one). Reads one JSON list of pieces per line (variant_pieces.py); writes one
// {"text", "ids"} object per line: the pieces' ids one after another (no BOS/EOS).
// Usage: node variant_ids.js VARIANTS_JSON NAME < pieces.jsonl > NAME.jsonl   (see generate.sh)
const fs = require('fs');
const variant = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))[process.argv[3]];
const models = require('path').join(require.resolve('@lenml/tokenizer-' + variant.base), '..', '..', 'models');
const tokenizerJSON = JSON.parse(fs.readFileSync(models + '/tokenizer.json', 'utf8'));
const tokenizerConfig = JSON.parse(fs.readFileSync(models + '/tokenizer_config.json', 'utf8'));
tokenizerJSON.pre_tokenizer = variant.pre_tokenizer;
if ('normalizer' in variant) tokenizerJSON.normalizer = variant.normalizer;
const tokenizer = require('@lenml/tokenizers').TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
const lines = fs.readFileSync(0, 'utf8').split('\n').filter((line) => line.length > 0);
for (const line of lines) {
  const pieces = JSON.parse(line);
  const ids = pieces.flatMap((piece) => tokenizer.encode(piece, { add_special_tokens: false }));
  process.stdout.write(JSON.stringify({ text: pieces.join(''), ids }) + '\n');
}
