-- The pandoc of book/pandoc_worker.py: `pandoc lua` reading requests on stdin, one at a time,
-- for as long as the --watch or serve session lasts.
--
-- A cold build's two halves of the book each have one too, for one parse and one render.
--
-- A request is a line "render N", "parse N FORMAT" or "render-parsed N", then N bytes: for render,
-- a pandoc JSON document (its metadata as the build sets it: references, lang, csl); for parse,
-- Markdown; for render-parsed, a JSON document as for render, whose blocks go before those of the
-- last document parsed (the citations that rebuild citeproc's state: book/incremental.py). The
-- answer is a line "ok N M" followed by N bytes: the HTML that `pandoc -f json -t html5 --citeproc
-- --wrap=none` writes, or the JSON that `pandoc -f FORMAT -t json` writes, less the final newline
-- the command line adds; then M bytes: pandoc's warnings, a line each. Or it is a line "no 0 0",
-- when pandoc failed.
--
-- Markdown is read in pandoc's sandbox with no file allowed (read_env {}), as `pandoc --sandbox`
-- reads it; the render reads the citation style, whose path the build sets, and nothing else.

local input, output = io.stdin, io.stdout
local writer_options = {wrap_text = "wrap-none"}

local parsed = nil -- the last document parse read, for render-parsed

local function render(data)
  local document = pandoc.read(data, "json")
  return pandoc.write(pandoc.utils.citeproc(document), "html5", writer_options)
end

local function parse(data, format)
  parsed = nil -- a parse that fails leaves nothing to render
  parsed = pandoc.read(data, format, {}, {})
  return pandoc.write(parsed, "json")
end

local function render_parsed(data)
  local document = pandoc.read(data, "json")
  document.blocks:extend(parsed.blocks)
  parsed = nil -- rendered once
  return pandoc.write(pandoc.utils.citeproc(document), "html5", writer_options)
end

local works = {render = render, parse = parse, ["render-parsed"] = render_parsed}

while true do
  local header = input:read("l")
  if not header then
    break -- the build closed the pipe: the session is over
  end
  local kind, size, format = header:match("^([%a-]+) (%d+) ?(%S*)$")
  local data = input:read(tonumber(size))
  local work = works[kind]
  local ok, messages, html = pcall(pandoc.log.silence, work, data, format)
  if ok then
    local warnings = {} -- what the command line would print (it leaves out INFO)
    for _, message in ipairs(messages) do
      local said = pandoc.json.decode(pandoc.json.encode(message))
      if said.verbosity ~= "INFO" then
        table.insert(warnings, "[" .. said.verbosity .. "] " .. said.pretty)
      end
    end
    local warned = table.concat(warnings, "\n")
    output:write("ok " .. #html .. " " .. #warned .. "\n", html, warned)
  else
    output:write("no 0 0\n")
  end
  output:flush()
end
