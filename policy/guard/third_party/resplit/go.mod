module github.com/mcpgov/mcpgov/policy/guard/third_party/resplit

go 1.26.8
