-- wrk script: POST text messages into one chat (CHAT, default the seeded big chat) as the token's user.
-- TOKEN is the sender's JWT (alice, a participant of the big chat).
local token = os.getenv("TOKEN")
local chat = os.getenv("CHAT") or "00000000000000000000b16c"
local n = 0
request = function()
  n = n + 1
  local body = '{"chatId":"' .. chat .. '","content":"hot chat message ' .. n .. '"}'
  return wrk.format("POST", "/api/v1/messages",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end
