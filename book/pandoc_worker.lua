-- The pandoc of book/pandoc_worker.py: `pandoc lua` reading requests on stdin, one at a time,
-- for as long as the --watch or serve session lasts.
--
-- A request is a line "render N" or "parse N FORMAT", then N bytes: for render, a pandoc JSON
-- document (its metadata as the build sets it: references, lang, csl); for parse, Markdown. The
-- answer is a line "ok N" followed by N bytes: the HTML that `pandoc -f json -t html5 --citeproc
-- --wrap=none` writes, or the JSON that `pandoc -f FORMAT -t json` writes, less the final newline
-- the command line adds. Or it is a line "no 0", when pandoc warned or failed: the build then runs
-- pandoc as usual, which reports the warning in its own words.

local input, output = io.stdin, io.stdout
local writer_options = {wrap_text = "wrap-none"}

local function render(data)
  local document = pandoc.read(data, "json")
  return pandoc.write(pandoc.utils.citeproc(document), "html5", writer_options)
end

local function parse(data, format)
  return pandoc.write(pandoc.read(data, format), "json")
end

while true do
  local header = input:read("l")
  if not header then
    break -- the build closed the pipe: the session is over
  end
  local kind, size, format = header:match("^(%a+) (%d+) ?(%S*)$")
  local data = input:read(tonumber(size))
  local work = kind == "parse" and parse or render
  local ok, messages, html = pcall(pandoc.log.silence, work, data, format)
  local clean = ok
  if ok then
    for _, message in ipairs(messages) do
      local level = pandoc.json.decode(pandoc.json.encode(message)).verbosity
      if level ~= "INFO" then
        clean = false
      end
    end
  end
  if clean then
    output:write("ok " .. #html .. "\n", html)
  else
    output:write("no 0\n")
  end
  output:flush()
end
