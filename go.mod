module github.com/posagent/posagent

go 1.25.0
